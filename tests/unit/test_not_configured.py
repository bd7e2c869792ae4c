"""A check with nothing configured to look at is never a pass: its Paso is skipped "no
configurado" with a warning, and where approval is required Paso 1.1 refuses the run first."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rollbook.checks import prerequisites
from rollbook.core.config import NotifyTarget
from rollbook.core.errors import StepFailed
from steps.verify import delivery
from tests.unit.local_run import local_run

ROOT = Path(__file__).resolve().parents[2]
UNIT_EMPTY = [
    "health.smoke_tests (or health.smoke_command)",
    "health.endpoints",
    "health.critical",
    "logs.files",
    "notify",
    "app.critical_packages",
]


def test_every_empty_check_setting_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    assert run.site.env.unconfigured_checks() == UNIT_EMPTY
    assert prerequisites.checks_configured(run) == UNIT_EMPTY  # approval optional: named only
    [warning] = [e["text"] for e in run.incident.journal.events("message")]
    assert warning == f"WARNING: no configurado en unit: {', '.join(UNIT_EMPTY)}"
    run.site.env = run.site.env.model_copy(update={"approval": "required"})
    with pytest.raises(StepFailed, match=r"requires approval, yet these checks are not configured"):
        prerequisites.checks_configured(run)


def test_a_paso_with_nothing_to_check_is_skipped_not_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_run(tmp_path, monkeypatch)  # environments/unit.yaml: no notify channel
    reports = tmp_path / "feature-reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "features/prerequisites.feature",
            "--env=unit",
            "-k",
            "Canal",
            f"--report-dir={reports}",
            "-p",
            "no:cacheprovider",
            "-rs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "1 skipped" in output and "passed" not in output.splitlines()[-2], output
    assert "no configurado: notify" in output
    [journal] = reports.glob("*/journal.jsonl")
    finished = [json.loads(line) for line in journal.read_text().splitlines()]
    [paso] = [e for e in finished if e["event"] == "paso_finished"]
    assert paso["status"] == "skipped" and paso["detail"] == "no configurado: notify"


def test_an_undelivered_notice_is_no_entregado_and_escalated_not_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    run.site.env = run.site.env.model_copy(
        update={"notify": [NotifyTarget(url_env="A"), NotifyTarget(url_env="B")]}
    )
    run.incident.journal.write("notification_sent", paso="1.4", kind="start", target="B (json)")
    run.incident.journal.write(
        "notification_warning",
        paso="1.4",
        kind="start",
        target="A (json)",
        reason="not sent: connection refused",
    )
    with pytest.raises(pytest.skip.Exception, match=r"NO ENTREGADO \(start\): A \(json\): not"):
        delivery(run, "start")
    [undelivered] = run.incident.journal.events("notification_undelivered")
    assert undelivered["missing"] == ["A (json): not sent: connection refused"]
    escalation = [
        e for e in run.incident.journal.events("notification") if e["kind"] == "escalation"
    ]
    assert escalation and "NO ENTREGADO" in escalation[0]["text"]
