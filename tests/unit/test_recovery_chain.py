"""§9 of a §9: the rollback a recovery recovers, the lock message after a killed recovery, and
the journals of earlier recoveries that did not finish (local:// Runs, no sandbox)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from rollbook.core.errors import UserError
from rollbook.core.journal import read_journal
from rollbook.core.state import SafetyDump
from rollbook.lifecycle import lock, recovery
from tests.unit.local_run import local_run

ROLLBACK = "2026-01-01-0000-unit"
KILLED = "2026-01-01-0010-unit"


def journal(tmp_path: Path, incident: str, *events: dict) -> Path:
    path = tmp_path / "reports" / incident / "journal.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def killed_recovery(tmp_path: Path) -> None:
    """A rollback, and a §9 of it killed during its database reload (no outcome)."""
    journal(tmp_path, ROLLBACK, {"event": "run_started", "incident": ROLLBACK})
    journal(
        tmp_path,
        KILLED,
        {"event": "run_started", "incident": KILLED},
        {"event": "recovering", "incident": ROLLBACK, "asked": ROLLBACK},
        {"event": "recovery_started", "operations": []},
    )


def hold(tmp_path: Path, host: str, pid: int) -> None:
    """The lock as the killed recovery left it."""
    folder = tmp_path / "backups" / ".rollbook-lock"
    folder.mkdir()
    owner = {
        "incident": KILLED,
        "recovers": ROLLBACK,
        "operator": "someone",
        "host": host,
        "pid": pid,
        "started": "2026-01-01T00:10:00+00:00",
    }
    (folder / "owner.json").write_text(json.dumps(owner))


def test_a_recovery_asked_for_a_recovery_recovers_the_rollback_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_recovery(tmp_path)
    said: list[str] = []
    run = local_run(tmp_path, monkeypatch, incident=KILLED)
    run.incident._progress = said.append
    assert recovery.original_incident(run) == ROLLBACK
    assert any(f"{KILLED} was itself a §9 recovery of incident {ROLLBACK}" in s for s in said)
    earlier = recovery.journals_of(run)
    assert earlier.events[0]["incident"] == ROLLBACK
    assert [j[0]["incident"] for j in earlier.interrupted] == [KILLED]
    sealed = {
        e["incident"]
        for e in read_journal(run.incident.journal.path)
        if e["event"] == "journal_sealed"
    }
    assert sealed == {ROLLBACK, KILLED}


def test_a_recovery_of_the_rollback_itself_finds_the_killed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_recovery(tmp_path)
    run = local_run(tmp_path, monkeypatch, incident=ROLLBACK)
    assert recovery.original_incident(run) == ROLLBACK
    assert [j[0]["incident"] for j in recovery.journals_of(run).interrupted] == [KILLED]


def test_a_finished_recovery_is_not_an_interrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_recovery(tmp_path)
    path = tmp_path / "reports" / KILLED / "journal.jsonl"
    path.write_text(path.read_text() + json.dumps({"event": "outcome"}) + "\n")
    run = local_run(tmp_path, monkeypatch, incident=ROLLBACK)
    recovery.original_incident(run)
    assert recovery.journals_of(run).interrupted == []


def test_the_lock_of_a_killed_recovery_names_the_rollback_to_recover_and_lets_it_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_recovery(tmp_path)
    gone = subprocess.Popen(["true"])
    gone.wait()
    rollback = local_run(tmp_path, monkeypatch)
    hold(tmp_path, socket.gethostname(), gone.pid)
    folder = tmp_path / "backups" / ".rollbook-lock"
    with pytest.raises(UserError) as refused:
        lock.acquire(rollback)
    said = str(refused.value)
    assert f"a §9 recovery of incident {ROLLBACK} that did not finish" in said
    assert said.count("--incident=") == 1 and f"--incident={ROLLBACK} " in said
    again = local_run(tmp_path, monkeypatch, incident=ROLLBACK)
    lock.acquire(again, recovers=recovery.original_incident(again))  # its advice, followed
    owner = json.loads((folder / "owner.json").read_text())
    assert owner["incident"] == again.incident.id and owner["recovers"] == ROLLBACK


def test_a_recovery_of_another_rollback_does_not_take_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_recovery(tmp_path)
    journal(tmp_path, "2025-12-31-2300-unit", {"event": "run_started"})
    other = local_run(tmp_path, monkeypatch, incident="2025-12-31-2300-unit")
    hold(tmp_path, "elsewhere", 1)
    with pytest.raises(UserError, match="locked by a rollback in progress"):
        lock.acquire(other, recovers=recovery.original_incident(other))


def test_a_typed_record_reads_back_from_the_journal_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    assert run.records.known(SafetyDump) is None
    run.records.keep(SafetyDump("/b/pre_rollback_1.sql", size=10, sha256="ab", tables={}))
    facts = {
        e["key"]: e["value"]
        for e in read_journal(run.incident.journal.path)
        if e["event"] == "fact"
    }
    assert SafetyDump.read(facts) == run.records.known(SafetyDump)
    assert SafetyDump.read(facts).tables == {}  # type: ignore[union-attr]
    later = {SafetyDump.KEY: {**facts[SafetyDump.KEY], "written_by": "a newer rollbook"}}
    assert SafetyDump.read(later) == run.records.known(
        SafetyDump
    )  # a key it does not know: left out


def test_a_journal_that_cannot_be_read_is_not_taken_for_a_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_recovery(tmp_path)
    tampered = tmp_path / "reports" / "2026-01-01-0020-unit" / "journal.jsonl"
    tampered.parent.mkdir(parents=True)
    tampered.write_text('{"event": "run_started", "paso":!"4.2"}\n')  # a byte changed by hand
    run = local_run(tmp_path, monkeypatch, incident=ROLLBACK)
    recovery.original_incident(run)
    assert [j[0]["incident"] for j in recovery.journals_of(run).interrupted] == [KILLED]
