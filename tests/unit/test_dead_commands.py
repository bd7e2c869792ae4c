"""A runner killed alone leaves its last command running: §9 finds it by its exact argument list
and stops it before acting. Real processes on `local://`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rollbook.core.command import command_line
from rollbook.core.journal import read_journal
from rollbook.lifecycle import dead_commands
from tests.unit.local_run import local_run


def intent(argv: list[str], **extra: object) -> dict[str, object]:
    return {"event": "intent", "host": "local://", "argv": argv, **extra}


def command(argv: list[str]) -> dict[str, object]:
    return {"event": "command", "host": "local://", "argv": argv, "mutating": True}


def test_the_unfinished_changes_are_the_intents_no_command_followed() -> None:
    dump, kill = ["pg_dump", "-f", "x.sql"], ["kill", "-TERM", "12"]
    events = [
        intent(kill),
        command(kill),
        intent(dump),
        intent(["git", "checkout"], resumed_from="earlier"),
    ]
    assert dead_commands.unfinished(events) == [intent(dump)]


def test_a_command_is_recognised_inside_its_wrappers_only() -> None:
    argv = ["pg_dump", "-f", "a b.sql"]
    assert dead_commands.runs(["timeout", "-k", "10", "600", "sudo", "-n", *argv], argv)
    assert dead_commands.runs(argv, argv)
    assert not dead_commands.runs(["timeout", "-k", "10", "600", "pg_dump", "-f", "a"], argv)
    assert not dead_commands.runs(["sh", "-c", "pg_dump -f 'a b.sql'"], argv)


def test_a_dead_runs_command_still_running_is_stopped_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    argv = ["sleep", "271828"]  # what the dead runner left, through the same wrappers
    orphan = subprocess.Popen(["/bin/sh", "-c", command_line(argv, timeout=600)])
    try:
        said = dead_commands.stop(run, [intent(argv)])
        assert orphan.wait(timeout=30) != 0
    finally:
        orphan.kill()
    assert said and all("sleep 271828" in line and "stopped (SIGTERM)" in line for line in said)
    journaled = [
        e["note"] for e in read_journal(run.incident.journal.path) if e["event"] == "dead_command"
    ]
    assert journaled == said
    assert dead_commands.stop(run, [intent(argv)]) == ["local: `sleep 271828` no longer runs"]
