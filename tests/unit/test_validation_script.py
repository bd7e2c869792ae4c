"""§8.3's script says the rollback is validated only when nothing of the validation failed: its
own four checks passing over a release whose other checks failed validate nothing."""

from pathlib import Path

import pytest

from rollbook.actions import web
from rollbook.checks import checklist, validation
from rollbook.core.errors import StepFailed
from tests.unit.local_run import local_run


@pytest.mark.parametrize("failed", [[], ["8.2 — Monitoreo estable (CPU, memoria, DB)"]])
def test_the_script_claims_a_validated_rollback_only_when_nothing_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failed: list[str]
) -> None:
    run = local_run(tmp_path, monkeypatch)
    said: list[str] = []
    run.incident._progress = said.append
    for module, name in (
        (web, "health_check"),
        (checklist, "services_active"),
        (checklist, "_dbshell"),
        (validation, "smoke_tests"),
    ):
        monkeypatch.setattr(module, name, lambda *_: None)  # each of the four passes
    for paso in failed:
        run.incident.journal.write("paso_finished", paso=paso, status="failed")
    assert checklist.validation_script(run) == dict.fromkeys(checklist.SCRIPT_CHECKS, "OK")
    if failed:
        assert said[-1] == (
            "=== §8.3: sus 4 comprobaciones pasan, pero la validación falló en "
            f"{failed[0]}: NO validado ==="
        )
    else:
        assert said[-1] == "=== Rollback Validado Exitosamente ==="


def test_every_failing_check_of_the_script_is_said_in_its_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    said: list[str] = []
    run.incident._progress = said.append

    def fails(why: str) -> object:
        def check(*_: object) -> None:
            raise StepFailed(why)

        return check

    monkeypatch.setattr(web, "health_check", lambda *_: None)
    monkeypatch.setattr(checklist, "services_active", fails("celery: STOPPED"))
    monkeypatch.setattr(checklist, "_dbshell", lambda *_: None)
    monkeypatch.setattr(validation, "smoke_tests", fails("2 failed"))
    assert list(checklist.validation_script(run).items()) == [
        ("1. Health check", "OK"),
        ("2. Servicios", "celery: STOPPED"),
        ("3. Base de datos", "OK"),
        ("4. Smoke tests", "2 failed"),
    ]
    assert not any("Validado" in line for line in said)
