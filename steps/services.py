"""Etapas 2 y 5 — Detención y reinicio de servicios."""

import pytest
from pytest_bdd import given, then, when

from rollbook.actions import app_services, web, workers
from rollbook.checks import criteria
from rollbook.core.run import Run
from rollbook.core.state import WebAnswer
from steps.verify import verifies


@when("se conecta a cada servidor del ambiente", target_fixture="reached")
def connect(run: Run) -> dict[str, str]:
    return app_services.connect_servers(run.incident, run.site, run.records)


@then("la conexión con cada servidor queda establecida")
def connected(run: Run, reached: dict[str, str]) -> None:
    verdict = criteria.hosts_answered(reached, run.site)
    assert not verdict.problems, verdict.text


@when("se elige cómo se verificará cada worker")
def worker_methods(run: Run) -> None:
    workers.plan_methods(run.incident, run.site, run.records)


@when("se prueba cada worker una vez por su método, antes de cualquier cambio")
def workers_tried(run: Run) -> None:
    workers.try_before(run.incident, run.site, run.records)


@when("se detienen los servicios de aplicación")
def stop(run: Run) -> None:
    app_services.stop_services(run.incident, run.site, run.records)


@verifies("no queda ningún proceso de los servicios de aplicación")
def no_processes(run: Run) -> None:
    left = app_services.wait_processes_gone(run.incident, run.site, run.records)
    assert not left, (
        f"processes of the app still alive after the services stopped: {left} — not run by the "
        "service manager (started by hand?): stop each by its PID, then run again"
    )


@given("que el ambiente tiene página de mantenimiento")
def has_maintenance(run: Run) -> None:
    if run.site.env.maintenance is None:
        pytest.skip(f"opcional: el ambiente {run.site.env.name} no define página de mantenimiento")


@when("se activa la página de mantenimiento")
def maintenance_on(run: Run) -> None:
    web.maintenance_everywhere(run.incident, run.site, run.records, on=True)


@verifies("la página de mantenimiento está activa")
def maintenance_active(run: Run) -> None:
    active, answers = web.public_state(run.incident, run.site)
    verdict = criteria.maintenance_on(active, answers)
    assert not verdict.problems, verdict.text


@when("se inicia el servicio web", target_fixture="log_errors")
def start_web(run: Run) -> dict[str, list[str]]:
    return app_services.start_web(run.incident, run.site, run.records)


@when("se inician los workers", target_fixture="log_errors")
def start_workers(run: Run) -> dict[str, list[str]]:
    return app_services.start_services(
        run.incident, run.site, run.records, run.site.env.services.workers
    )


@verifies("el servicio web está activo sin errores en sus logs")
def web_running(run: Run, log_errors: dict[str, list[str]]) -> None:
    answer = run.records.need(WebAnswer).status
    assert answer, f"{run.site.env.health.url} does not answer: the web service is not serving"
    verdict = criteria.no_log_errors(log_errors)
    assert not verdict.problems, verdict.text


@given("que el ambiente tiene workers")
def has_workers(run: Run) -> None:
    if not run.site.env.services.workers:
        pytest.skip(f"opcional: el ambiente {run.site.env.name} no define services.workers")


@verifies("cada worker funciona, verificado por el método de su stack")
def workers_work(run: Run, log_errors: dict[str, list[str]]) -> None:
    answers = workers.check_all(run.incident, run.site, run.records, wait=True)
    unchecked = workers.unchecked(run.site, answers)
    assert not unchecked.problems, unchecked.text
    verdict = criteria.no_log_errors(log_errors)
    assert not verdict.problems, verdict.text


@when("se desactiva la página de mantenimiento")
def maintenance_off(run: Run) -> None:
    web.maintenance_everywhere(run.incident, run.site, run.records, on=False)


@verifies("el tráfico normal está restaurado")
def traffic_restored(run: Run) -> None:
    active, answers = web.public_state(run.incident, run.site, reaching=True)
    verdict = criteria.traffic_back(active, answers, run.site.env.services.start_timeout)
    assert not verdict.problems, verdict.text
