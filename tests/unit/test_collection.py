"""Feature files are collected directly: order, selection, markers, the duplicate-name guard."""

import subprocess
import sys
from pathlib import Path

from rollbook.core.config import environments_dir

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def collected(out: str) -> list[str]:
    return [line.split("::")[1] for line in out.splitlines() if "::" in line]


def test_collect_only_lists_the_pasos_in_procedure_order() -> None:
    result = pytest_run("features/rollback.feature", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    names = collected(result.stdout)
    assert names[:4] == [
        "test_paso_1_1_confirmar_necesidad_de_rollback",
        "test_paso_1_2_identificar_version_objetivo",
        "test_paso_1_3_verificar_backup_disponible",
        "test_paso_1_4_notificar_inicio_de_rollback",
    ]


def test_selection_by_tag_and_keyword() -> None:
    by_tag = pytest_run("features/", "--collect-only", "-q", "-m", "etapa1")
    assert by_tag.returncode == 0 and all("paso_1_" in n for n in collected(by_tag.stdout))
    by_name = pytest_run("features/rollback.feature", "--collect-only", "-q", "-k", "paso_1_3")
    assert collected(by_name.stdout) == ["test_paso_1_3_verificar_backup_disponible"]


def feature_dir(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "x.feature").write_text("# language: es\nCaracterística: X\n" + body)
    return tmp_path


def test_two_scenarios_with_one_name_are_a_collection_error(tmp_path: Path) -> None:
    body = "  Escenario: Paso 1.1 — A\n    Dado algo\n\n  Escenario: Paso 1.1 — A\n    Dado otro\n"
    cwd = feature_dir(tmp_path, body)
    result = pytest_run("-p", "rollbook.plugin", "--collect-only", "-q", "x.feature", cwd=cwd)
    assert result.returncode != 0
    assert "two scenarios named 'Paso 1.1 — A'" in result.stdout


def test_unregistered_tags_fail_under_strict_markers(tmp_path: Path) -> None:
    cwd = feature_dir(
        tmp_path, "  @etiqueta_desconocida\n  Escenario: Paso 1.1 — A\n    Dado algo\n"
    )
    result = pytest_run("-p", "rollbook.plugin", "--collect-only", "-q", "x.feature", cwd=cwd)
    assert result.returncode != 0
    assert "etiqueta_desconocida" in result.stdout


def test_unknown_environment_is_one_line_and_non_zero() -> None:
    result = pytest_run("features/rollback.feature", "--env=nope")
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert errors == [
        "ERROR: unknown environment 'nope': choose one of "
        "fleet, fleet-ssh, production, sandbox, sandbox-demo, sandbox-filer, sandbox-systemd, "
        "sandbox-wagtail, staging "
        f"(files in {environments_dir()}/)"  # the sandbox instance's copies, under xdist
    ]


def test_feature_run_without_env_names_the_environments() -> None:
    result = pytest_run("features/rollback.feature")
    assert result.returncode != 0
    assert (
        "--env is required to run the procedure: choose one of "
        "fleet, fleet-ssh, production, sandbox, sandbox-demo, sandbox-filer, sandbox-systemd, "
        "sandbox-wagtail, staging" in result.stderr
    )


def test_a_selection_out_of_the_procedures_order_is_refused() -> None:
    result = pytest_run("features/rollback.feature", "--collect-only", "-q", "-m", "etapa5")
    assert result.returncode != 0
    assert (
        "the selection breaks PROCED-BACK-003's order: Paso 5.4 is selected without Paso 1.1"
        in (result.stderr)
    )


def test_quick_rollback_and_prefixes_keep_the_order() -> None:
    for selection in (["-m", "not base_de_datos"], ["-m", "etapa1 or etapa2"], ["-k", "paso_1_"]):
        result = pytest_run("features/rollback.feature", "--collect-only", "-q", *selection)
        assert result.returncode == 0, result.stderr


def test_checklists_can_be_selected_freely() -> None:
    result = pytest_run("features/validation.feature", "--collect-only", "-q", "-k", "8_3")
    assert collected(result.stdout) == ["test_8_3_script_de_validacion_automatica"]


def test_every_decision_tree_example_passes_without_an_environment() -> None:
    result = pytest_run("features/decision_tree.feature", "-q")
    assert result.returncode == 0, result.stdout
    assert "13 passed" in result.stdout
