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
    run.executor.root_actions = frozenset({"logs"})
    run.executor.paso = "6.4"
    run.executor.host("local://").run(["sh", "-c", f"echo '<b>{PASSWORD}</b>'"], mutating=False)
    run.executor.host("local://").run(["true"], mutating=False, check=False, root="logs")
    events = list(read_journal(run.journal.path))
    evidence = report.paso_evidence_html(events, "6.4")
    log = report.human_log(events)
    assert "timeout -k 10 600 sh -c" in evidence and "&lt;b&gt;[REDACTED]&lt;/b&gt;" in evidence
    assert "timeout -k 10 600 sudo -n true" in evidence  # only the root action runs under sudo
    assert "[6.4] local:// $ timeout -k 10 600 sudo -n true → exit" in log
    assert PASSWORD not in evidence + log
