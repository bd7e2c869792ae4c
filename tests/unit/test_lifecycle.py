"""The lock, the outcome and §9's recovery on a `local://` Run: real commands, no sandbox."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rollbook.actions import web
from rollbook.core.errors import UserError
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.lifecycle import lock, outcome
from tests.unit.local_run import PASSWORD, local_run

ROOT = Path(__file__).resolve().parents[2]


def failed_at(run: Run, paso: str, detail: str) -> None:
    """The journal says the Paso failed, as the plugin writes it."""
    run.incident.journal.write(
        "paso_finished",
        paso=paso,
        name="x",
        phase="call",
        status="failed",
        duration=0.1,
        detail=detail,
    )


def events(path: Path) -> list[dict]:
    return list(read_journal(path))


def test_the_lock_is_taken_refused_to_another_run_and_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = local_run(tmp_path, monkeypatch)
    lock.acquire(first)
    owner = json.loads((tmp_path / "backups" / ".rollbook-lock" / "owner.json").read_text())
    assert owner["incident"] == first.incident.id and owner["operator"] == "unit"
    second = local_run(tmp_path, monkeypatch)
    with pytest.raises(
        UserError, match=f"locked by a rollback in progress: incident {first.incident.id}"
    ):
        lock.acquire(second)
    lock.release_if_mine(second)  # not its lock: left alone
    assert (tmp_path / "backups" / ".rollbook-lock").is_dir()
    lock.release_if_mine(first)
    assert not (tmp_path / "backups" / ".rollbook-lock").exists()
    pasos = {e["paso"] for e in events(first.incident.journal.path) if e["event"] == "command"}
    assert pasos == {"lock"}  # the tool's own commands, journaled apart from the Pasos


def test_a_dead_holder_is_named_stale_and_can_be_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = subprocess.Popen(["true"])  # a pid that has just ended
    gone.wait()
    folder = tmp_path / "backups" / ".rollbook-lock"
    run = local_run(tmp_path, monkeypatch)
    folder.mkdir()
    (folder / "owner.json").write_text(
        json.dumps(
            {
                "incident": "2026-01-01-0000-unit",
                "operator": "someone",
                "host": socket.gethostname(),
                "pid": gone.pid,
                "started": "2026-01-01T00:00:00+00:00",
            }
        )
    )
    with pytest.raises(UserError, match=r"process \d+ is gone.*--incident=2026-01-01-0000-unit"):
        lock.acquire(run)
    dead = tmp_path / "reports" / "2026-01-01-0000-unit" / "journal.jsonl"
    dead.parent.mkdir(parents=True)
    dead.write_text('{"event": "run_started"}\n')
    lock.acquire(run, break_lock=True)
    owner = json.loads((folder / "owner.json").read_text())
    assert owner["incident"] == run.incident.id
    taken = [e for e in events(run.incident.journal.path) if e["event"] == "lock_taken_over"]
    assert taken and taken[0]["previous"]["incident"] == "2026-01-01-0000-unit"
    # the dead run's journal is evidence: sealed by its sha256 here, never written again
    assert dead.read_text() == '{"event": "run_started"}\n'
    [sealed] = [e for e in events(run.incident.journal.path) if e["event"] == "journal_sealed"]
    assert sealed["sha256"] == hashlib.sha256(dead.read_bytes()).hexdigest()


def test_a_lock_that_cannot_be_made_is_one_line_and_no_retry_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    (tmp_path / "backups").rmdir()  # database.backups missing on the db host
    with pytest.raises(UserError) as refused:
        lock.acquire(run)
    said = str(refused.value)
    assert said.startswith(f"cannot take the rollback lock {tmp_path}/backups/.rollbook-lock on ")
    assert "No such file or directory" in said and "\n" not in said
    lines = [e["line"] for e in events(run.incident.journal.path) if e["event"] == "command"]
    assert len([line for line in lines if "mkdir" in line]) == 1


def test_an_ownerless_lock_is_stale_once_older_than_a_run_needs_to_write_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    folder = tmp_path / "backups" / ".rollbook-lock"
    folder.mkdir()  # a run killed between its mkdir and writing owner.json
    fresh = r"a lock with no owner yet .* made \d s ago\): another run"
    with pytest.raises(UserError, match=fresh):
        lock.acquire(run)
    old = time.time() - 2 * lock.OWNERLESS_GRACE
    os.utime(folder, (old, old))
    stale = r"a stale lock with no owner .* made 12\d s ago.*--break-lock"
    with pytest.raises(UserError, match=stale):
        lock.acquire(run)
    lock.acquire(run, break_lock=True)
    assert json.loads((folder / "owner.json").read_text())["incident"] == run.incident.id


def test_a_run_refused_by_the_lock_leaves_no_record_and_prints_no_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_run(tmp_path, monkeypatch)  # environments/unit.yaml, its variables set
    folder = tmp_path / "backups" / ".rollbook-lock"
    folder.mkdir()
    (folder / "owner.json").write_text(
        json.dumps(
            {
                "incident": "2026-01-01-0000-unit",
                "operator": "someone",
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": "2026-01-01T00:00:00+00:00",
            }
        )
    )
    reports = tmp_path / "refused"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "features/rollback.feature",
            "--env=unit",
            "--reason=r",
            "--severity=ALTO",
            "--impact=i",
            "--approved-by=a",
            "--operator=o",
            f"--report-dir={reports}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert "is locked by a rollback in progress: incident 2026-01-01-0000-unit" in output
    assert "Generated html report" not in output and "Traceback" not in output
    assert not reports.exists() or not any(reports.iterdir())


def test_a_failure_before_any_change_aborts_without_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    failed_at(run, "1.3", "no valid backup")
    result = outcome.finish(run)
    assert (result.name, result.exit_code) == (outcome.ABORTED, 1)
    assert "falló el Paso 1.3 antes de cualquier cambio" in result.lines[0]
    assert events(run.incident.journal.path)[-1]["outcome"] == outcome.ABORTED


def test_a_failure_after_a_change_is_recovered_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paso 2.3 put the maintenance page up, Paso 2.4 failed: §9 takes the page down."""
    run = local_run(tmp_path, monkeypatch)
    page = Path(run.site.env.maintenance.page)  # type: ignore[union-attr]
    run.site.executor.paso = "2.3"
    # begins the operation §9 undoes
    web.maintenance_everywhere(run.incident, run.site, run.records, on=True)
    assert page.is_file()
    failed_at(run, "2.4", "boom")
    result = outcome.finish(run)
    assert (result.name, result.exit_code) == (outcome.RESTORED, 1)
    assert not page.exists()
    assert any("maintenance page off: ok" in line for line in result.lines)
    assert PASSWORD not in run.incident.journal.path.read_text()


def test_without_auto_recovery_a_changed_system_needs_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch, auto_recover=False)
    run.site.executor.paso = "2.3"
    run.site.executor.host("local://").run(["true"], mutating=True)
    failed_at(run, "2.4", "boom")
    result = outcome.finish(run)
    assert result.name == outcome.MANUAL
    assert "la recuperación automática está desactivada (--no-auto-recover)" in result.lines
