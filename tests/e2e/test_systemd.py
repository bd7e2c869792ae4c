"""An app host under a real systemd (in its own namespaces), reached over SSH: the procedure's
literal `systemctl stop gunicorn celery` / `systemctl start`, and a service's errors read from
the journal (`journalctl -u`). No proxy on this host: no maintenance page."""

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rollbook.sandbox import supervisor, systemd_host
from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.variant import write_variant
from tests.e2e import compatibility
from tests.e2e.sandbox_state import INCIDENT, Outcome, dump, fast, run_feature
from tests.e2e.test_faults import make_fault

pytestmark = pytest.mark.e2e
STACK = "an app host under systemd over ssh://, no proxy"


@pytest.fixture
def host_under_systemd(sandbox_reset: None) -> Iterator[str]:
    layout = load_layout()
    spec = systemd_host.up(layout)
    yield spec
    systemd_host.down(layout)
    supervisor.start(layout)


def systemd_stack(spec: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        fast(data)
        data["hosts"]["app"] = [spec]
        data["services"] = {"manager": "systemd", "app": ["gunicorn", "celery"],
                            "workers": ["celery"]}  # fmt: skip
        data.pop("maintenance")  # nginx runs outside this host
        data["logs"]["files"] = []  # the services log to the journal

    return change


def commands(done: Outcome, paso: str) -> list[str]:
    return [e["line"] for e in done.journal() if e["event"] == "command" and e["paso"] == paso]


def test_a_rollback_with_systemctl_on_a_real_systemd(
    host_under_systemd: str, tmp_path: Path
) -> None:
    variant = write_variant(tmp_path, systemd_stack(host_under_systemd))
    done = run_feature(tmp_path, *INCIDENT, extra_env=variant)
    compatibility.record(STACK, done, "rollback", "ROLLBACK COMPLETADO")
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    assert any("systemctl stop gunicorn celery" in line for line in commands(done, "2.2"))
    assert any("systemctl start gunicorn" in line for line in commands(done, "5.1"))
    checked = done.facts()["workers_checked"]["hosts"]
    [said] = checked.values()  # the host's own node answered (its hostname, as systemd set it)
    assert re.fullmatch(r"celery: inspect — celery@\S+ answered", said), said


def test_a_service_that_cannot_start_shows_its_journal(
    host_under_systemd: str, tmp_path: Path
) -> None:
    options = make_fault("release-cannot-boot")  # Paso 5.1 fails: §9 runs
    variant = write_variant(tmp_path, systemd_stack(host_under_systemd))
    done = run_feature(tmp_path, *INCIDENT, *options, extra_env=variant)
    compatibility.record(STACK, done, "Paso 5.1 fails (cannot boot): §9",
                         "FALLIDO — ESTADO PREVIO RESTAURADO")  # fmt: skip
    assert done.outcome == "FALLIDO — ESTADO PREVIO RESTAURADO", dump(done)
    failed = [e["detail"] for e in done.journal()
              if e["event"] == "paso_finished" and e["status"] == "failed"]  # fmt: skip
    assert any("RuntimeError: cannot boot" in detail for detail in failed), failed
    assert any("journalctl -u gunicorn" in line for line in commands(done, "5.1"))
