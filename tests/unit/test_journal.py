"""The journal, read while it is written or after a kill cut its last line."""

import json
from pathlib import Path

import pytest

from rollbook.core.journal import Journal, read_journal
from rollbook.core.redact import Redactor


def test_a_long_line_lands_whole_and_a_cut_last_line_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, Redactor())
    journal.write("fact", key="provenance", value="x" * 200_000)  # far over any buffer
    journal.write("paso_started", paso="2.1")
    journal.close()
    assert [e["event"] for e in read_journal(path)] == ["fact", "paso_started"]
    with path.open("a") as handle:  # a write cut by SIGKILL: no newline, not JSON
        handle.write('{"ts": "2026-11-29T16:06:58", "event": "paso_sta')
    assert [e["event"] for e in read_journal(path)] == ["fact", "paso_started"]
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "not json", lines[1]]) + "\n")  # corrupt mid-file
    with pytest.raises(json.JSONDecodeError):
        list(read_journal(path))
    with pytest.raises(ValueError, match="closed"):
        journal.write("late")
