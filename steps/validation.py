"""Etapa 6 — Validación post-rollback."""

from pytest_bdd import then, when

from rollbook.checks import validation
from rollbook.core.run import Run


@when("se consulta el health check", target_fixture="health")
def health(run: Run) -> int:
    return validation.health_check(run)


@then("el health check responde HTTP 200")
def health_ok(health: int) -> None:
    assert health == 200


@when("se ejecutan los smoke tests y se consultan los endpoints", target_fixture="smoke")
def smoke(run: Run) -> dict[str, object]:
    return validation.smoke_tests(run)


@then("los smoke tests pasan y cada endpoint responde HTTP 200")
def smoke_ok(smoke: dict[str, object]) -> None:
    assert all(code == 200 for code in smoke["endpoints"].values())


@when("se verifican las funcionalidades críticas", target_fixture="critical")
def critical(run: Run) -> dict[str, object]:
    return validation.critical_functions(run)


@then("las funcionalidades críticas están operativas")
def critical_ok(critical: dict[str, object]) -> None:
    assert all(value in (True, 200) for value in critical.values())


@when("se observan los logs durante la ventana del ambiente", target_fixture="log_lines")
def watch_logs(run: Run) -> list[str]:
    return validation.monitor_logs(run)


@then("no aparecen errores críticos en los logs")
def no_errors(log_lines: list[str]) -> None:
    assert not log_lines
