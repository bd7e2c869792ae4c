"""Closing never loses the record: a closing action that fails (the log copy's folder is not
writable, the incidents channel is down, the ledger cannot be written) is recorded and shown, and
report.html, SHA256SUMS and the signature are written all the same."""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rollbook.core.config import load_environment
from rollbook.sandbox.variant import write_variant
from tests.e2e.record_checks import ARTIFACTS, intact, verify
from tests.e2e.reliability import record
from tests.e2e.sandbox_state import INCIDENT, dump, fast, run_feature

pytestmark = pytest.mark.e2e
COMPLETED = "ROLLBACK COMPLETADO"


def copy_to_a_file(data: dict[str, Any]) -> None:
    data["logs"]["copy_to"] = "/etc/hostname"  # a file: no folder can be made under it


@contextlib.contextmanager
def ledger_lock_unopenable() -> Iterator[None]:
    """The ledger stays readable (Paso 1.2 reads it) but no append can take its lock: the lock
    file is a link into /proc, where nobody, root included, can create a file."""
    lock = Path(f"{load_environment('sandbox').ledger_file()}.lock")
    lock.unlink(missing_ok=True)
    lock.symlink_to("/proc/rollbook-no-such-file")
    try:
        yield
    finally:
        lock.unlink()


# case → (what, change to the environment, variables, the closing action that fails)
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], None] | None, dict[str, str], str | None]]
CASES = {
    "log copy folder unwritable": (
        "logs.copy_to: /etc/hostname",
        copy_to_a_file,
        {},
        "copia de rollback.log a /etc/hostname",
    ),
    "incidents channel down": (
        "SANDBOX_NOTIFY_URL → a closed port",
        None,
        {"SANDBOX_NOTIFY_URL": "json://127.0.0.1:9/incidents"},
        None,
    ),
    "ledger unwritable": (
        "the ledger's lock file cannot be created",
        None,
        {},
        "registro de versiones",
    ),
}
SETUP = {"ledger unwritable": ledger_lock_unopenable}


@pytest.mark.parametrize("case", list(CASES))
def test_a_closing_fault_never_loses_the_record(
    sandbox_reset: None, tmp_path: Path, case: str
) -> None:
    how, change, variables, failing = CASES[case]

    def variant(data: dict[str, Any]) -> None:
        fast(data)
        if change is not None:
            change(data)

    with SETUP.get(case, contextlib.nullcontext)():
        done = run_feature(
            tmp_path, *INCIDENT, extra_env={**write_variant(tmp_path, variant), **variables}
        )
    events = done.journal()
    failed = [e["action"] for e in events if e["event"] == "closing_failed"]
    undelivered = [e for e in events if e["event"] == "notification_warning"]
    said = "; ".join(failed) or f"{len(undelivered)} notifications not delivered"
    good = verify(done.folder)
    complete = {p.name for p in done.folder.iterdir()} >= ARTIFACTS and intact(good)
    record("closing", case, how, done.outcome, said, complete)
    assert done.outcome == COMPLETED, dump(done)
    assert complete, good.stdout + good.stderr
    if failing is not None:
        assert failed == [failing]
        assert f"WARNING: cierre: {failing} FALLÓ" in done.output
    else:
        assert not failed and undelivered
