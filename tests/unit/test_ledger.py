"""The release ledger file: concurrent writers never corrupt it; torn lines are skipped."""

import json
import multiprocessing
from pathlib import Path

from rollbook.actions import ledger
from tests.unit.local_run import local_host

WRITERS, APPENDS = 6, 8
PACKAGES = [f"package-{n:05d}==1.0.{n}" for n in range(2500)]  # lines of ~60 KB: many writes


def writer(folder: str, ledger_file: str, number: int) -> None:
    host = local_host(Path(folder) / f"writer-{number}")
    for n in range(APPENDS):
        entry = {
            "tag": f"t-{number}-{n}",
            "commit": "c" * 40,
            "status": "validated",
            "time": "2026-11-28T00:00:00+00:00",
            "packages": PACKAGES,
        }
        ledger.add(host, ledger_file, entry)


def test_concurrent_writers_leave_whole_lines(tmp_path: Path) -> None:
    ledger_file = tmp_path / "rollbook" / "ledger.jsonl"
    for number in range(WRITERS):
        (tmp_path / f"writer-{number}").mkdir()
    processes = [
        multiprocessing.Process(target=writer, args=(str(tmp_path), str(ledger_file), number))
        for number in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert all(process.exitcode == 0 for process in processes)
    lines = ledger_file.read_text().splitlines()
    assert len(lines) == WRITERS * APPENDS
    tags = {json.loads(line)["tag"] for line in lines}  # every line parses on its own
    assert tags == {f"t-{w}-{n}" for w in range(WRITERS) for n in range(APPENDS)}


def test_a_torn_line_is_skipped_and_the_newest_status_wins(tmp_path: Path) -> None:
    ledger_file = tmp_path / "ledger.jsonl"
    first = {"tag": "a", "commit": "1", "status": "validated", "time": "2026-11-01T00:00:00+00:00"}
    later = {**first, "status": "rolled_back_from", "time": "2026-11-02T00:00:00+00:00"}
    ledger_file.write_text(json.dumps(first) + "\n" + json.dumps(later) + "\n" + '{"tag": "b", "co')
    entries = ledger.read(local_host(tmp_path), str(ledger_file))
    assert [e["status"] for e in entries] == ["validated", "rolled_back_from"]
    assert ledger.latest(entries)["a"]["status"] == "rolled_back_from"
