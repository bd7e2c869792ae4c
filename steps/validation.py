"""Etapa 6 — Validación post-rollback."""

from pytest_bdd import then, when

from rollbook.actions import web
from rollbook.checks import validation
from rollbook.core.run import Run
from rollbook.core.verdict import judged


@when("se consulta el health check", target_fixture="health")
def health(run: Run) -> dict[str, dict[str, object]]:
    return web.health_answers(run.incident, run.site)


@then("el health check responde HTTP 200")
def health_ok(run: Run, health: dict[str, dict[str, object]]) -> None:
    verdict = judged(web.unhealthy(run.site.env.health, health))
    assert not verdict.problems, verdict.text


@when("se ejecutan los smoke tests y se consultan los endpoints", target_fixture="smoke")
def smoke(run: Run) -> dict[str, object]:
    return validation.smoke_results(run)


@then("los smoke tests pasan y cada endpoint responde HTTP 200")
def smoke_ok(smoke: dict[str, object]) -> None:
    verdict = judged(validation.smoke_failures(smoke))
    assert not verdict.problems, verdict.text


@when("se verifican las funcionalidades críticas", target_fixture="critical")
def critical(run: Run) -> dict[str, object]:
    return validation.critical_functions(run)


@then("las funcionalidades críticas están operativas")
def critical_ok(critical: dict[str, object]) -> None:
    verdict = judged(validation.not_working(critical), "critical functions not working")
    assert not verdict.problems, verdict.text


@when("se observan los logs durante la ventana del ambiente", target_fixture="log_lines")
def watch_logs(run: Run) -> list[str]:
    return validation.monitor_logs(run)


@then("no aparecen errores críticos en los logs")
def no_errors(log_lines: list[str]) -> None:
    verdict = judged(log_lines[:3], f"{len(log_lines)} error lines in the logs")
    assert not verdict.problems, verdict.text
