"""Time the sandbox rollback (total, downtime, each Etapa against Anexo B) and a validation run.

    .venv/bin/python bench/sandbox_rollback.py --runs 5 [--markdown FILE]

Each run: `rollbook sandbox reset`, the rollback feature, then validation.feature on the result;
figures read from their journals. Prints medians; a benchmark, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from rollbook import sandbox
from rollbook.core import timeline
from rollbook.core.config import load_environment
from rollbook.core.journal import read_journal
from rollbook.sandbox import instance

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--env=sandbox",
    "--reason=benchmark",
    "--severity=ALTO",
    "--approved-by=Tomás Torres",
    "-q",
]


def journal_of(feature: str, args: list[str], report_dir: Path) -> list[dict[str, Any]]:
    before = set(report_dir.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", feature, *args, f"--report-dir={report_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{feature} failed:\n{done.stdout[-2000:]}")
    [folder] = set(report_dir.iterdir()) - before
    return list(read_journal(folder / "journal.jsonl"))


def one_run(report_dir: Path) -> dict[str, float]:
    sandbox.reset()
    events = journal_of("features/rollback.feature", ARGS, report_dir)
    figures: dict[str, float] = defaultdict(float)
    figures["total"] = timeline.seconds_between(events[0]["ts"], events[-1]["ts"]) or 0.0
    figures["downtime"] = timeline.downtime(events) or 0.0
    for event in events:
        if event["event"] == "paso_finished":
            figures[f"etapa{str(event['paso']).split('.')[0]}"] += event["duration"]
    checks = journal_of("features/validation.feature", ["--env=sandbox", "-q"], report_dir)
    window = sum(e["value"]["seconds"] for e in checks if e.get("key") == "log_watch")
    validation = timeline.seconds_between(checks[0]["ts"], checks[-1]["ts"]) or 0.0
    figures["validation (log window excluded)"] = validation - window
    return figures


def machine() -> str:
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**30
    return f"{os.cpu_count()} cores, {memory} GiB"


def render(runs: list[dict[str, float]], budgets: dict[str, float]) -> str:
    rows = ["| measure | median (s) | min - max (s) | Anexo B budget (s) |", "|---|---|---|---|"]
    keys = ["total", "downtime", *[f"etapa{i}" for i in range(1, 8)]]
    for key in [*keys, "validation (log window excluded)"]:
        values = [r[key] for r in runs]
        budget = f"{budgets[key]:.0f}" if key in budgets else "-"
        spread = f"{min(values):.1f} - {max(values):.1f}"
        rows.append(f"| {key} | {statistics.median(values):.1f} | {spread} | {budget} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="write the table into this file")
    options = parser.parse_args()
    instance.activate(instance.current())  # $ROLLBOOK_SANDBOX_INSTANCE: its files and ports
    sandbox.up()
    budgets = load_environment("sandbox").budgets
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(options.runs):
            runs.append(one_run(Path(tmp)))
            figures = runs[-1]
            print(
                f"run {n + 1}: total {figures['total']:.1f} s, downtime {figures['downtime']:.1f} s"
            )
    table = render(runs, budgets)
    print(table)
    if options.markdown:
        options.markdown.write_text(
            f"Sandbox rollback, {options.runs} runs, machine: {machine()}.\n"
            f"Command: `.venv/bin/python bench/sandbox_rollback.py --runs {options.runs}`\n\n"
            f"{table}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
