"""The performance benchmark as a smoke check: it completes on a 10 MB database and writes its
table (docs/PERFORMANCE.md holds the measured figures; nothing here asserts a time)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.sandbox_state import ROOT

pytestmark = pytest.mark.e2e


def test_benchmark_completes_and_writes_its_table(sandbox_up: None, tmp_path: Path) -> None:
    table = tmp_path / "table.md"
    done = subprocess.run(
        [
            sys.executable,
            "bench/rollback_vs_script.py",
            "--size-mb",
            "10",
            "--pairs",
            "1",
            "--fast",
            "--markdown",
            str(table),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = table.read_text()
    assert "Database grown by 10 MB, 1 pairs" in text
    for measure in ("total", "downtime", "restore", "etapa4"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {measure} |"))
        assert len(row.split("|")) == 8, row  # B, A, A/B, F (fast options), F/B
        assert all(cell.strip() for cell in row.split("|")[1:-1]), row
