"""Etapa 4 — Rollback de base de datos."""

from pytest_bdd import then, when

from rollbook import database
from rollbook.run import Run
from steps.verify import verifies


@when("se crea el backup de seguridad del estado actual", target_fixture="safety")
def safety_backup(run: Run) -> dict[str, object]:
    return database.safety_backup(run)


@verifies("el backup de seguridad queda creado y verificado")
def safety_checked(run: Run, safety: dict[str, object]) -> None:
    assert safety["size"] and safety["sha256"]


@when("se bloquean las conexiones nuevas y se terminan las activas")
def close_connections(run: Run) -> None:
    database.close_connections(run)


@verifies("no queda ninguna conexión activa a la base de datos")
def no_connections(run: Run) -> None:
    assert database.other_connections(run) == 0


@when("se restaura la base de datos desde el backup verificado")
def restore(run: Run) -> None:
    database.restore_database(run, run.fact("backup")["path"])


@when("se cuentan las filas del estado previo ausentes tras la restauración")
def count_loss(run: Run) -> None:
    run.record("data_loss", tables=database.data_loss(run))


@verifies("la base de datos queda restaurada y django_migrations responde")
def restored(run: Run) -> None:
    assert database.migrations_count(run) > 0


@when("se consulta el estado de las migraciones", target_fixture="pending")
def showmigrations(run: Run) -> list[str]:
    pending, output = database.pending_migrations(run)
    run.record("migrations", pending=pending, output=output)
    return pending


@then("todas las migraciones están aplicadas, sin pendientes")
def no_pending(pending: list[str]) -> None:
    assert not pending, f"migrations pending at the target: {pending}"


@verifies("el estado de migraciones es el registrado para la versión objetivo")
def recorded_migrations(run: Run) -> None:
    database.check_recorded_migrations(run)
