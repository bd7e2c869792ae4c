"""Worker checks on the sandbox's real celery worker: each method the engine may choose, passing
with a working worker and failing, naming the method, when it is not."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.actions import workers
from rollbook.core.config import Environment, ReadyCheck
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.records import Records
from rollbook.core.state import CeleryBroker
from rollbook.sandbox.layout import Layout, load_layout
from rollbook.sandbox.supervisor import stop_running
from rollbook.services import manager_for
from tests.unit.local_run import local_host

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def layout(sandbox_up: None) -> Layout:
    sandbox.reset()
    return load_layout()


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return local_host(tmp_path / "journal")


def fresh(host: Host) -> Records:
    """A run's records with nothing learnt yet (celery's app is loaded once per run for a commit
    and a package set: each variant here, the app's env file changed, is another run)."""
    return Records(host.policy.journal, host.policy)


def restart_worker(layout: Layout) -> None:
    services = layout.env.services
    subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), "restart", "celery"],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def no_remote_control(layout: Layout, host: Host) -> Iterator[dict[str, list[str]]]:
    """The app's own setting turns celery's remote control off (as a broker without broadcast
    has none); the worker restarted with it. Yields the worker's log marks before the restart."""
    before = layout.app_env_file.read_text()
    marks = workers.log_marks(manager_for(host, layout.env.services), ["celery"])
    layout.app_env_file.write_text(before + "CELERY_REMOTE_CONTROL=off\n")
    restart_worker(layout)
    yield marks
    layout.app_env_file.write_text(before)
    restart_worker(layout)


def with_ready(env: Environment, **check: object) -> Environment:
    services = env.services.model_copy(update={"ready": {"celery": ReadyCheck(**check)}})
    return env.model_copy(update={"services": services})


def test_remote_control_is_used_where_the_broker_has_it(layout: Layout, host: Host) -> None:
    assert workers.methods(host, layout.env, fresh(host)) == {"celery": "inspect"}
    said = workers.check_host(host, layout.env, fresh(host), {}, wait=True)
    assert said.startswith("celery: inspect — celery@") and said.endswith(" answered")


def test_without_remote_control_the_ready_line_since_the_start(
    layout: Layout, host: Host, no_remote_control: dict[str, list[str]]
) -> None:
    method = "celery log (redis: no remote control)"
    assert workers.methods(host, layout.env, fresh(host)) == {"celery": method}
    said = workers.check_host(host, layout.env, fresh(host), no_remote_control, wait=True)
    assert said.startswith(f"celery: {method} — ") and said.endswith(" ready."), said
    # the ready line already in the log before this mark is not one since the start
    now = workers.log_marks(manager_for(host, layout.env.services), ["celery"])
    with pytest.raises(
        StepFailed,
        match=rf"no line matching .* since its start \[worker checked by {re.escape(method)}",
    ):
        workers.check_host(host, layout.env, fresh(host), now, wait=False)


def test_a_stopped_worker_fails_naming_the_method(
    layout: Layout, host: Host, no_remote_control: dict[str, list[str]]
) -> None:
    stop_running(layout, ["celery"])
    try:
        with pytest.raises(
            StepFailed, match=r"worker celery is not running .*\[worker checked by celery log"
        ):
            workers.check_host(host, layout.env, fresh(host), no_remote_control, wait=False)
    finally:
        restart_worker(layout)


def test_without_celery_the_process_staying_up(layout: Layout, host: Host) -> None:
    env = layout.env.model_copy(update={"celery": None})
    assert workers.methods(host, env, fresh(host)) == {"celery": "process"}
    assert "celery: process — running " in workers.check_host(host, env, fresh(host), {}, wait=True)


def test_a_readiness_command_of_the_environment(layout: Layout, host: Host) -> None:
    env = with_ready(layout.env, command=["test", "-f", "manage.py"])  # run in the app's folder
    assert workers.check_host(host, env, fresh(host), {}, wait=False) == (
        "celery: command — `test -f manage.py` exit 0"
    )
    failing = with_ready(layout.env, command=["test", "-f", "no-such-file"])
    with pytest.raises(
        StepFailed, match=r"readiness command `test -f no-such-file` did not exit 0"
    ):
        workers.check_host(host, failing, fresh(host), {}, wait=False)
    missing = with_ready(layout.env, command=["no-such-tool-4711"])
    with pytest.raises(StepFailed, match=r"'no-such-tool-4711' is not a command on this host"):
        workers.methods(host, missing, fresh(host))


def test_a_readiness_log_line_of_the_environment(layout: Layout, host: Host) -> None:
    env = with_ready(layout.env, log=r"mingle: (searching|all alone)")
    assert workers.methods(host, env, fresh(host)) == {"celery": "log"}
    assert "mingle: all alone" in workers.check_host(host, env, fresh(host), {}, wait=False)


def test_a_real_task_round_trip_with_the_apps_settings(layout: Layout, host: Host) -> None:
    named = workers.roundtrip(host, layout.env)  # the environment's task: core.tasks.ping
    assert named["task"] == "core.tasks.ping" and named["result"] == "'pong'", named
    assert layout.env.celery is not None
    celery = layout.env.celery.model_copy(update={"roundtrip_task": None})
    default = workers.roundtrip(host, layout.env.model_copy(update={"celery": celery}))
    assert default["task"] == "celery.accumulate" and default["id"], default
    assert default["result"] == repr(f"rollbook-{host.name}")


def _celery_loads(host: Host) -> int:
    return sum(1 for e in host.policy.journal.events("command") if "find_app" in str(e["argv"]))


def test_celery_is_loaded_once_per_commit_and_package_set(layout: Layout, host: Host) -> None:
    """Loading the app's celery (a Python start and the app's imports) is not repeated while the
    checkout's commit and the venv's package set are those it was loaded with."""
    records = fresh(host)
    chosen = workers.methods(host, layout.env, records)
    assert chosen == {"celery": "inspect"} and _celery_loads(host) == 1
    assert workers.methods(host, layout.env, records) == chosen and _celery_loads(host) == 1
    answer = records.need(CeleryBroker).hosts[host.spec]
    for changed in ({"code": "0" * 40}, {"packages_sha256": "0" * 64}):  # another commit, venv
        records.keep_host(
            CeleryBroker, host.spec, {**answer, "loaded": {**answer["loaded"], **changed}}
        )
        loads = _celery_loads(host)
        assert workers.methods(host, layout.env, records) == chosen
        assert _celery_loads(host) == loads + 1
