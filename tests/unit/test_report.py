"""report.html's evidence and rollback.log from a local Run's journal: the exact line that ran,
its wrappers included; output escaped and without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollbook.core.journal import read_journal
from rollbook.record import report
from tests.unit.local_run import PASSWORD, local_run


def test_evidence_and_log_show_the_exact_line_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    run.site.executor.root_actions = frozenset({"logs"})
    run.site.executor.paso = "6.4"
    run.site.executor.host("local://").run(
        ["sh", "-c", f"echo '<b>{PASSWORD}</b>'"], mutating=False
    )
    run.site.executor.host("local://").run(["true"], mutating=False, check=False, root="logs")
    events = list(read_journal(run.incident.journal.path))
    evidence = report.paso_evidence_html(events, "6.4")
    log = report.human_log(events)
    assert "timeout -k 10 600 sh -c" in evidence and "&lt;b&gt;[REDACTED]&lt;/b&gt;" in evidence
    assert "timeout -k 10 600 sudo -n true" in evidence  # only the root action runs under sudo
    assert "[6.4] local:// $ timeout -k 10 600 sudo -n true → exit" in log
    assert PASSWORD not in evidence + log


def test_a_failed_run_opens_on_the_failed_paso_its_commands_and_what_section_9_did() -> None:
    events = [
        {"event": "paso_finished", "paso": "5.1", "status": "passed", "phase": "call"},
        {
            "event": "command",
            "paso": "6.2",
            "host": "local://",
            "argv": ["pytest", "smoke"],
            "line": "pytest smoke",
            "exit": 1,
            "duration": 1.0,
            "stdout": "AssertionError: rounding",
            "stderr": "",
        },
        {
            "event": "paso_finished",
            "paso": "6.2",
            "status": "failed",
            "phase": "call",
            "detail": "smoke tests failed: 1 failed",
        },
        {"event": "recovery_action", "action": "start the services", "result": "ok"},
        {"event": "recovery_check", "check": "health as before", "ok": True, "detail": "500"},
    ]
    html = report.failed_paso_html(events)
    assert html.startswith('<section id="paso-fallido"><h2>Falló el Paso 6.2</h2>')
    assert "smoke tests failed: 1 failed" in html and "AssertionError: rounding" in html
    assert "§9 acción: start the services: ok" in html and "None" not in html
    assert report.failed_paso_html(events[:1]) == ""
