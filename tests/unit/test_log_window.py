"""Paso 6.4's log window: in a rollback it begins where Paso 5.1 read the logs before starting
the services, so what the restarted release wrote at its start counts; a validation run of its
own watches from its first scenario (the --watch from its own step)."""

import time
from pathlib import Path

import pytest

from rollbook.checks import validation
from rollbook.core.config import LogsConfig
from rollbook.core.run import Run
from rollbook.core.state import LogsAtStart
from tests.unit.local_run import local_run


def with_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, Path]:
    run = local_run(tmp_path, monkeypatch)
    log = tmp_path / "app.log"
    log.write_text("ERROR written by the release before the rollback\n")
    logs = LogsConfig(files=[str(log)], watch=1.0)
    run.site.env = run.site.env.model_copy(update={"logs": logs})
    return run, log


def test_errors_the_restarted_release_wrote_at_its_start_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, log = with_log(tmp_path, monkeypatch)
    offsets = {str(log): log.stat().st_size}
    run.records.keep_host(LogsAtStart, "local://", {"at": time.time(), "offsets": offsets})
    with log.open("a") as handle:  # between Paso 5.1's start and Paso 6.4
        handle.write("INFO booting\nERROR at boot: cache unreachable\n")
    found = validation.monitor_logs(run)
    assert found == [f"{log}: ERROR at boot: cache unreachable"]
    watched = run.incident.journal.facts()["log_watch"]
    assert watched["since"] == "start" and watched["asked"] == 1.0 and watched["seconds"] >= 1.0


def test_a_validation_of_its_own_watches_from_its_own_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, log = with_log(tmp_path, monkeypatch)
    with log.open("a") as handle:  # before the validation started: not its window
        handle.write("ERROR an hour ago\n")
    assert validation.monitor_logs(run) == []
    watched = run.incident.journal.facts()["log_watch"]
    assert watched["since"] == "watch" and watched["seconds"] >= 1.0


def test_a_validation_runs_its_checks_inside_its_window_opened_at_its_first_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, log = with_log(tmp_path, monkeypatch)
    run.incident.checklist = True
    validation.open_log_window(run)  # the first scenario's background
    assert "logs_at_validation_start" in run.incident.journal.facts()
    with log.open("a") as handle:  # while the other checks run
        handle.write("ERROR during the smoke tests\n")
    time.sleep(1.0)  # the other checks took the whole window
    validation.open_log_window(run)  # a later scenario's background: the window stays open
    found = validation.monitor_logs(run)
    assert found == [f"{log}: ERROR during the smoke tests"]
    watched = run.incident.journal.facts()["log_watch"]
    assert watched["since"] == "start" and watched["seconds"] >= 1.0
    said = [e["text"] for e in run.incident.journal.events("message")]
    assert any("since the validation started 1 s ago (window 1 s: 0 s more)" in s for s in said)


def test_a_rollback_opens_no_window_before_its_services_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, _ = with_log(tmp_path, monkeypatch)
    validation.open_log_window(run)  # the rollback's background: Paso 5.1 opens Paso 6.4's
    assert "logs_at_validation_start" not in run.incident.journal.facts()
