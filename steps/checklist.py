"""§8 — Validación (checklists de validation.feature)."""

import pytest
from pytest_bdd import given, then, when

from rollbook.actions import workers
from rollbook.checks import checklist, criteria
from rollbook.core.run import Run
from rollbook.core.verdict import judged


@when("se consulta el estado de cada servicio", target_fixture="states")
def service_states(run: Run) -> dict[str, bool | str]:
    return checklist.service_states(run)


@then("cada servicio está activo")
def services_active(states: dict[str, bool | str]) -> None:
    verdict = judged(checklist.not_active(states), "services not running")
    assert not verdict.problems, verdict.text


@when("se leen las líneas recientes de los logs", target_fixture="recent")
def recent_lines(run: Run) -> list[str]:
    return checklist.recent_log_errors(run)


@then("no hay líneas de error recientes")
def no_recent_errors(run: Run, recent: list[str]) -> None:
    window = run.site.env.logs.recent
    what = f"error lines since the services' last start (at most {window:.0f} s)"
    verdict = judged(recent, what)
    assert not verdict.problems, verdict.text


@when("se mide la latencia de cada endpoint principal", target_fixture="latency")
def measure_latency(run: Run) -> dict[str, dict[str, dict[str, float]]]:
    return checklist.api_latency(run)


@then("el p95 de cada endpoint está bajo el presupuesto del ambiente")
def under_budget(run: Run, latency: dict[str, dict[str, dict[str, float]]]) -> None:
    verdict = criteria.p95_within(latency, run.site.env.health.latency_budget_ms)
    assert not verdict.problems, verdict.text


@when(
    "se registran la carga, la memoria y las conexiones a la base de datos",
    target_fixture="figures",
)
def record_resources(run: Run) -> dict[str, dict[str, float]]:
    return checklist.resources(run)


@then("cada cifra está bajo el umbral del ambiente")
def under_thresholds(run: Run, figures: dict[str, dict[str, float]]) -> None:
    verdict = criteria.resources_within(figures, run.site.env.thresholds)
    assert not verdict.problems, verdict.text


@given("que el ambiente tiene workers por los que enviar una tarea")
def has_roundtrip(run: Run) -> None:
    env = run.site.env
    if not env.services.workers:
        pytest.skip(f"opcional: el ambiente {env.name} no define workers")
    if workers.without_roundtrip(env) == env.services.workers:
        pytest.skip(
            f"sin tarea de ida y vuelta: {', '.join(env.services.workers)} no son workers de "
            "celery y no tienen services.ready.<worker>.roundtrip — configúrelo para esta "
            "comprobación"
        )


@when("se envía una tarea real por la cola de cada worker", target_fixture="answer")
def send_task(run: Run) -> dict[str, str]:
    return checklist.roundtrips(run)


@then("la tarea vuelve con su resultado")
def task_returned(answer: dict[str, str]) -> None:
    verdict = criteria.every_answered(answer, "no result from the task sent on")
    assert not verdict.problems, verdict.text


@when("se ejecuta el script de validación automática", target_fixture="script")
def run_script(run: Run) -> dict[str, str]:
    return checklist.validation_script(run)


@then("el rollback queda validado exitosamente")
def script_passed(script: dict[str, str]) -> None:
    verdict = criteria.script_passed(script, tuple(checklist.SCRIPT_CHECKS))
    assert not verdict.problems, verdict.text
