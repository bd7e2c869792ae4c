"""An app host under a real systemd (in its own namespaces), reached over SSH: the procedure's
literal `systemctl stop gunicorn celery` / `systemctl start`, and a service's errors read from
the journal (`journalctl -u`). No proxy on this host: no maintenance page."""

import fcntl
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.sandbox import systemd_host
from rollbook.sandbox.variant import write_variant
from tests.e2e import compatibility
from tests.e2e.sandbox_state import INCIDENT, Outcome, dump, fast, run_feature
from tests.e2e.test_faults import make_fault

pytestmark = pytest.mark.e2e
STACK = "an app host under systemd over ssh://, no proxy"
SYSTEMD = [a.replace("--env=sandbox", "--env=sandbox-systemd") for a in INCIDENT]


@pytest.fixture
def host_under_systemd(sandbox_reset: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    """`rollbook sandbox up --systemd`; the variables that make a run read sandbox-systemd.yaml
    (over the sandbox with Paso 3.2 asking pip first). One systemd host per machine: a worker
    beside this one waits for this test's to go down."""
    with open(systemd_host.OWNER.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sandbox.up(systemd=True)
        try:
            yield write_variant(tmp_path, fast, extending=("sandbox-systemd",))
        finally:
            sandbox.reset()  # stops the systemd host, starts the supervisord's programs again


def commands(done: Outcome, paso: str) -> list[str]:
    return [e["line"] for e in done.journal() if e["event"] == "command" and e["paso"] == paso]


def test_a_rollback_with_systemctl_on_a_real_systemd(
    host_under_systemd: dict[str, str], tmp_path: Path
) -> None:
    done = run_feature(tmp_path, *SYSTEMD, extra_env=host_under_systemd)
    compatibility.record(STACK, done, "rollback", "ROLLBACK COMPLETADO")
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    assert any("systemctl stop gunicorn celery" in line for line in commands(done, "2.2"))
    assert any("systemctl start gunicorn" in line for line in commands(done, "5.1"))
    checked = done.facts()["workers_checked"]["hosts"]
    [said] = checked.values()  # the host's own node answered (its hostname, as systemd set it)
    assert re.fullmatch(r"celery: inspect — celery@\S+ answered", said), said


def test_a_service_that_cannot_start_shows_its_journal(
    host_under_systemd: dict[str, str], tmp_path: Path
) -> None:
    options = make_fault("release-cannot-boot")  # Paso 5.1 fails: §9 runs
    done = run_feature(tmp_path, *SYSTEMD, *options, extra_env=host_under_systemd)
    compatibility.record(
        STACK, done, "Paso 5.1 fails (cannot boot): §9", "FALLIDO — ESTADO PREVIO RESTAURADO"
    )
    assert done.outcome == "FALLIDO — ESTADO PREVIO RESTAURADO", dump(done)
    failed = [
        e["detail"]
        for e in done.journal()
        if e["event"] == "paso_finished" and e["status"] == "failed"
    ]
    assert any("RuntimeError: cannot boot" in detail for detail in failed), failed
    assert any("journalctl -u gunicorn" in line for line in commands(done, "5.1"))
