"""Stacks shaped differently from the sandbox's, rolled back end to end: workers whose broker has
no remote control, and workers that celery does not manage (no `celery` section)."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.variant import write_variant
from tests.e2e.sandbox_state import INCIDENT, dump, env, fast, run_feature

pytestmark = pytest.mark.e2e


def restart_worker() -> None:
    services = env().services
    subprocess.run([services.supervisorctl, "-c", str(services.supervisor_conf), "restart",
                    "celery"], check=True, capture_output=True)  # fmt: skip


@pytest.fixture
def no_remote_control(sandbox_reset: None) -> Iterator[None]:
    """The app's own setting turns celery's remote control off, as a broker without broadcast
    (SQLAlchemy/database transports, SQS) has none: `celery inspect` can never answer."""
    app_env = load_layout().app_env_file
    before = app_env.read_text()
    app_env.write_text(before + "CELERY_REMOTE_CONTROL=off\n")
    restart_worker()
    yield
    app_env.write_text(before)
    restart_worker()


def worker_checks(done: object) -> list[str]:
    facts = done.facts()  # type: ignore[attr-defined]
    return [*facts["worker_methods"]["hosts"].values(), *facts["workers_checked"]["hosts"].values()]


def test_a_broker_without_remote_control(no_remote_control: None, tmp_path: Path) -> None:
    done = run_feature(tmp_path, *INCIDENT, extra_env=write_variant(tmp_path, fast))
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    methods, checked = worker_checks(done)
    assert methods == {"celery": "celery log (redis: no remote control)"}, methods
    assert checked.startswith("celery: celery log (redis: no remote control) — "), checked
    assert checked.endswith(" ready."), checked
    assert "workers on local://: celery by celery log (redis: no remote control)" in done.output


def test_workers_that_are_not_celerys(sandbox_reset: None, tmp_path: Path) -> None:
    def without_celery(data: dict) -> None:
        fast(data)
        data.pop("celery")

    done = run_feature(tmp_path, *INCIDENT, extra_env=write_variant(tmp_path, without_celery))
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    methods, checked = worker_checks(done)
    assert methods == {"celery": "process"}, methods
    assert checked.startswith("celery: process — running "), checked
