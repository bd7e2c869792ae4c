"""A dead run's private folder (its pgpass) is removed by a journaled command, planned and never
run in a dry-run, and only under `~/.rollbook/runs/`. Real files on `local://`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rollbook.core.executor import Mode
from rollbook.core.journal import read_journal
from rollbook.lifecycle.recovery import remove_private_files
from tests.unit.local_run import local_run

ROOT = Path(__file__).resolve().parents[2]


def dead_run(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    """A private folder another incident made, and the journal events that say so."""
    folder = tmp_path / "home" / ".rollbook" / "runs" / "DEAD-1.0a1b2c3d"
    folder.mkdir(parents=True)
    (folder / "pgpass").write_text("*:*:*:*:secret\n")
    events: list[dict[str, object]] = [
        {"event": "run_started", "incident": "DEAD-1"},
        {"event": "private_file", "host": "local://", "path": str(folder / "pgpass")},
    ]
    return folder, events


@pytest.mark.parametrize("mode", [Mode.EXECUTE, Mode.DRY_RUN])
def test_a_dead_runs_private_folder_is_removed_by_a_journaled_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    run = local_run(tmp_path, monkeypatch, mode=mode)
    folder, events = dead_run(tmp_path)
    assert remove_private_files(run, events) == {"local://": None}
    journal = list(read_journal(run.incident.journal.path))
    argv = ["rm", "-rf", "--", str(folder)]
    if mode is Mode.EXECUTE:
        assert not folder.exists()
        assert [e["argv"] for e in journal if e["event"] == "intent"] == [argv]
        assert any(e["event"] == "command" and e["argv"] == argv for e in journal)
    else:  # planned, as every other change of a dry-run
        assert folder.exists()
        assert [e["argv"] for e in journal if e["event"] == "planned"] == [argv]
        assert not any(e["event"] == "command" and e["argv"] == argv for e in journal)


def test_only_a_runs_private_folder_is_ever_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    elsewhere = tmp_path / "home" / "keep"
    elsewhere.mkdir(parents=True)
    events: list[dict[str, object]] = [
        {"event": "run_started", "incident": "DEAD-2"},
        {"event": "private_file", "host": "local://", "path": str(elsewhere / "pgpass")},
    ]
    [(_, error)] = remove_private_files(run, events).items()
    assert error and "is not a run's private folder" in error and "left alone" in error
    assert elsewhere.exists()


def test_nothing_outside_core_reaches_through_a_host_or_site_to_the_executor() -> None:
    """Host and Site are the command path: the Pasos, checks, lifecycle and plugin never use
    the Executor behind them (issue 33's `grep -rn "host.executor\\|\\.executor\\."`; a Host
    holds the run's policy as `policy` since the one command path)."""
    reach = re.compile(r"host\.(executor|policy)|\.(executor|policy)\.")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("rollbook", "steps")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not path.is_relative_to(ROOT / "rollbook" / "core")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if reach.search(line)
    ]
    assert not found, "\n".join(found)
