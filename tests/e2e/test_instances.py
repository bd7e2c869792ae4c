"""Two sandbox instances side by side: both roll back at the same time, each on its own folder
and ports, neither touching the other's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.core.config import load_file
from rollbook.core.journal import read_journal
from rollbook.sandbox import instance
from tests.e2e.sandbox_state import INCIDENT, ROOT, Outcome, dump

pytestmark = pytest.mark.e2e

COMPLETED = "ROLLBACK COMPLETADO"
CLI = [sys.executable, "-m", "rollbook.cli", "sandbox"]


@pytest.fixture
def another_instance(sandbox_reset: None) -> Iterator[int]:
    """A second instance of this checkout, up and in its start state; stopped afterwards (its
    files stay, so the next run's `up` is quick)."""
    n = instance.spare()
    try:
        for action in ("up", "reset"):
            subprocess.run(
                [*CLI, action, "--instance", str(n)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
        yield n
    finally:
        subprocess.run(
            [*CLI, "down", "--instance", str(n)], cwd=ROOT, check=False, capture_output=True
        )


def commands(outcome: Outcome) -> str:
    """Every command line the run's journal records, one text."""
    return "\n".join(e["line"] for e in outcome.journal() if e["event"] == "command")


def test_two_instances_roll_back_at_the_same_time(another_instance: int, tmp_path: Path) -> None:
    mine = instance.current()
    started = {}
    for n in (mine, another_instance):
        folder = tmp_path / f"instance-{n}"
        folder.mkdir()
        started[n] = (
            folder,
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "features/rollback.feature",
                    *INCIDENT,
                    f"--report-dir={folder}",
                    "-p",
                    "no:cacheprovider",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "ROLLBOOK_ENVIRONMENTS": str(instance.environments(n))},
            ),
        )
    done: dict[int, Outcome] = {}
    for n, (folder, process) in started.items():
        output, _ = process.communicate(timeout=900)
        (incident,) = folder.iterdir()
        done[n] = Outcome(process.returncode, output, incident)
    for outcome in done.values():
        assert outcome.outcome == COMPLETED, dump(outcome)
    # at the same time: each ran while the other did
    spans = {n: (o.journal()[0]["ts"], o.journal()[-1]["ts"]) for n, o in done.items()}
    (a_start, a_end), (b_start, b_end) = spans.values()
    assert a_start < b_end and b_start < a_end, json.dumps(spans)
    # each on its own: its environment file, its folder and its database's port in its commands
    for n, outcome in done.items():
        other = another_instance if n == mine else mine
        events = read_journal(outcome.folder / "journal.jsonl")
        started_event = next(e for e in events if e["event"] == "run_started")
        env = load_file(Path(started_event["environment_file"]))
        assert Path(env.app.path).is_relative_to(instance.root(n)), env.app.path
        lines = commands(outcome)
        assert f"-p {env.database.port} " in lines, lines[-2000:]
        theirs = load_file(instance.environments(other) / "sandbox.yaml")
        assert f"-p {theirs.database.port} " not in lines
        assert str(instance.root(other)) + "/" not in lines
