"""Read-only runs on the real sandbox: validation, quick rollback, refusals (the dry-run plan:
test_rollback.py, against the real run that follows it)."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.sandbox.variant import write_variant as environments
from tests.e2e import releases
from tests.e2e.sandbox_state import (
    INCIDENT,
    ROOT,
    dump,
    env,
    fast,
    fingerprints,
    git,
    run_feature,
    state,
)

pytestmark = pytest.mark.e2e
VALIDATION = "features/validation.feature"


def files_digest(folder: str) -> str:
    """Every file under a folder: path, size, mtime (bytecode caches aside)."""
    entries = sorted(
        f"{p}|{p.stat().st_size}|{p.stat().st_mtime_ns}"
        for p in Path(folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def untouched() -> tuple[object, ...]:
    """What a read-only run must leave exactly as it was, service PIDs included."""
    services = env().services
    pids = subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), "pid", "all"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return (state(), pids, files_digest(env().app.path), files_digest(env().database.backups))


def test_validation_fails_at_the_defective_release_check_by_check(
    sandbox_reset: None, tmp_path: Path
) -> None:
    before = untouched()
    done = run_feature(tmp_path, "--env=sandbox", feature=VALIDATION)
    assert done.code != 0
    assert done.outcome == "VERIFICACION FALLIDA — SIN CAMBIOS"
    results = done.pasos()
    assert results["8.1 — Health check HTTP 200"] == "failed"
    assert results["8.1 — Base de datos accesible"] == "passed"  # each check reported on its own
    assert results["8.2 — Tareas celery ejecutándose"] == "passed"
    lines = (ROOT / VALIDATION).read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "Escenario: 8.1 — Health check" in text)
    assert f"validation.feature:{line}: 8.1 — Health check HTTP 200: " in done.output
    assert untouched() == before


def test_quick_rollback_restores_code_and_leaves_the_database(
    sandbox_reset: None, tmp_path: Path
) -> None:
    quick = environments(tmp_path, fast)  # Paso 3.2's reinstall is the main rollback test's
    full = run_feature(tmp_path, *INCIDENT, extra_env=quick)
    assert full.code == 0, dump(full)
    stable = full.facts()["target"]["tag"]
    releases.deploy(releases.publish_code_only_defect())
    database = fingerprints()
    backups = sorted(p.name for p in Path(env().database.backups).iterdir())
    done = run_feature(
        tmp_path, *INCIDENT, f"--target-tag={stable}", "-m", "not base_de_datos", extra_env=quick
    )
    assert done.code == 0, dump(done)
    assert done.outcome == "ROLLBACK COMPLETADO"
    assert git("rev-parse", "HEAD") == git("rev-parse", f"{stable}^{{commit}}")
    assert fingerprints() == database
    assert sorted(p.name for p in Path(env().database.backups).iterdir()) == backups
    deselected = next(e for e in done.journal() if e["event"] == "selection")["deselected"]
    assert [n.split(" —")[0] for n in deselected] == [
        "Paso 1.3",
        "Paso 4.0",
        "Paso 3.0",
        "Paso 4.1",
        "Paso 4.2",
        "Paso 4.3",
        "Paso 4.4",
        "Paso 4.5",
        "Paso 5.4",
    ]
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert "- Paso 4.3 — Restaurar base de datos" in markdown.read_text()


def test_a_mutating_action_in_a_read_only_run_is_refused(sandbox_up: None, tmp_path: Path) -> None:
    sandbox.reset()
    feature = tmp_path / "intento.feature"
    feature.write_text(
        "# language: es\n@solo_lectura\nCaracterística: Intento\n"
        "  Escenario: Intento de cambio en una corrida de solo lectura\n"
        "    Dado el ambiente del incidente cargado\n"
        "    Cuando se intenta activar la página de mantenimiento\n"
    )
    before = untouched()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(feature),
            "--env=sandbox",
            "-c",
            "pyproject.toml",
            "--rootdir",
            str(ROOT),
            "-p",
            "rollbook.plugin",
            "-p",
            "steps.evaluation",
            "-p",
            "tests.e2e.steps_intento",
            f"--report-dir={tmp_path / 'reports'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "would change the system and this run is read-only" in done.stdout
    assert untouched() == before
