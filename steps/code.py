"""Etapa 3 — Rollback de código."""

import pytest
from pytest_bdd import given, when

from rollbook.actions import code, dependencies, new_venv, static
from rollbook.checks import criteria
from rollbook.core.run import Run
from rollbook.core.state import Target
from rollbook.core.verdict import judged
from steps.verify import after, verifies


@when("se registra la versión desplegada")
def record_deployed(run: Run) -> None:
    code.record_deployed_code(run.incident, run.site, run.records)


@when("se hace checkout del tag objetivo")
def checkout(run: Run) -> None:
    code.checkout_tag(run.incident, run.site, run.records, run.records.need(Target).ref)


@verifies("el código queda en la versión estable")
def code_at_target(run: Run) -> None:
    verdict = judged(code.hosts_not_at(run.site, run.records.need(Target).ref), "not at the target")
    assert not verdict.problems, verdict.text


@given("que el ambiente reinstala las dependencias en un venv nuevo")
def new_venv_wanted(run: Run) -> None:
    if not new_venv.enabled(run.site.env):
        pytest.skip(
            f"opcional: el ambiente {run.site.env.name} reinstala en su venv en el Paso "
            f"3.2 (app.force_reinstall: {run.site.env.app.force_reinstall})"
        )


@when(
    "se instalan los paquetes de la versión objetivo en un venv nuevo con el servicio activo",
    target_fixture="installed",
)
def stage_venv(run: Run) -> dict[str, dict[str, object]] | None:
    built = new_venv.prepare(run.incident, run.site, run.records)
    if not built:
        pytest.skip(new_venv.none_built(run.records))
    return after(run, lambda: built)


@when("se reinstalan las dependencias de la versión objetivo", target_fixture="installed")
def reinstall(run: Run) -> dict[str, dict[str, object]] | None:
    new_venv.reinstall(run.incident, run.site, run.records)
    return after(run, lambda: dependencies.installed(run.incident, run.site))


@verifies("los paquetes críticos tienen las versiones de la versión objetivo")
def critical_packages(run: Run, installed: dict[str, dict[str, object]]) -> None:
    verdict = judged(dependencies.critical_mismatches(run.incident, run.site, installed))
    assert not verdict.problems, verdict.text


@verifies("el conjunto de paquetes es el registrado para la versión objetivo")
def package_set(run: Run, installed: dict[str, dict[str, object]]) -> None:
    verdict = judged(dependencies.package_set_differences(run.incident, run.records, installed))
    assert not verdict.problems, verdict.text


@when("se recolectan los archivos estáticos de la versión objetivo", target_fixture="static_files")
def build_static(run: Run) -> dict[str, int]:
    return static.build(run.incident, run.site)


@verifies("los archivos estáticos quedan restaurados")
def static_restored(run: Run, static_files: dict[str, int]) -> None:
    verdict = criteria.every_counted(static_files, "static files collected")
    assert not verdict.problems, verdict.text
