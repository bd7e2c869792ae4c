"""Etapa 4 — Rollback de base de datos."""

import pytest
from pytest_bdd import given, then, when

from rollbook.actions import database
from rollbook.actions.database import database_path, restore_strategy, row_recovery, swap
from rollbook.core.run import Run
from rollbook.core.state import SafetyDump
from steps.verify import after, verifies


@given("que el ambiente restaura la base de datos por intercambio")
def swap_strategy(run: Run) -> None:
    if database_path.migrating(run.records):
        pytest.skip("opcional: la base de datos vuelve revirtiendo sus migraciones (Paso 3.0)")
    if not swap.enabled(run.site, run.records):
        pytest.skip(
            f"opcional: el ambiente {run.site.env.name} restaura con la estrategia recreate"
        )


@when(
    "se adelanta con el servicio activo lo que la Etapa 4 puede hacer antes", target_fixture="ahead"
)
def ahead(run: Run) -> dict[str, object]:
    return restore_strategy.ahead(run.incident, run.site, run.records)


@verifies("lo adelantado a la Etapa 4 queda verificado")
def ahead_checked(run: Run, ahead: dict[str, object]) -> None:
    wrong = restore_strategy.ahead_verified(run.site, run.records, ahead)
    assert wrong is None, wrong


@given("que el ambiente revierte las migraciones en lugar de restaurar el backup")
def migrate_path(run: Run) -> None:
    if not database_path.migrating(run.records):
        why = database_path.why(run.records)
        pytest.skip(f"opcional: la base de datos se restaura desde el backup ({why})")


@when("se revierten las migraciones de la versión desplegada", target_fixture="left_over")
def reverse_migrations(run: Run) -> list[str] | None:
    database_path.reverse(run.incident, run.site, run.records)
    return after(run, lambda: database_path.left_over(run.site, run.records))


@verifies("la base de datos queda en las migraciones de la versión objetivo")
def reversed_to_target(run: Run, left_over: list[str]) -> None:
    assert not left_over, f"migrations of the deployed release still applied: {left_over}"


@given("que el ambiente recupera las filas que la restauración deja fuera")
def recover_path(run: Run) -> None:
    if not database_path.recovering(run.records):
        why = database_path.why(run.records)
        pytest.skip(f"opcional: no se recuperan filas tras la restauración ({why})")


@when(
    "se reinsertan las filas del estado previo ausentes tras la restauración",
    target_fixture="unaccounted",
)
def recover_rows(run: Run) -> dict[str, int] | None:
    row_recovery.recover(run.incident, run.site, run.records)
    return after(run, lambda: row_recovery.unaccounted(run.incident, run.site, run.records))


@verifies("cada fila ausente queda recuperada o listada en el archivo de rescate")
def rows_accounted(run: Run, unaccounted: dict[str, int]) -> None:
    assert not unaccounted, f"rows missing after Paso 4.5 and not in the salvage: {unaccounted}"


@when("se crea el backup de seguridad del estado actual", target_fixture="safety")
def safety_backup(run: Run) -> dict[str, object]:
    return restore_strategy.safety_backup(run.incident, run.site, run.records)


@verifies("el backup de seguridad queda creado y verificado")
def safety_checked(run: Run, safety: dict[str, object]) -> None:
    assert restore_strategy.safety_verified(run.site, run.records, safety), (
        f"safety backup not verified: {safety}"
    )


@when(
    "se bloquean las conexiones nuevas y se terminan las activas", target_fixture="connections_left"
)
def close_connections(run: Run) -> int | None:
    database.close_connections(run.incident, run.site, run.records)
    return after(run, lambda: database.other_connections(run.site.postgres()))


@verifies("no queda ninguna conexión activa a la base de datos")
def no_connections(run: Run, connections_left: int) -> None:
    assert connections_left == 0, f"{connections_left} sessions still on the database"


@when(
    "se restaura la base de datos desde el backup verificado", target_fixture="restored_migrations"
)
def restore(run: Run) -> int | None:
    restore_strategy.restore(run.incident, run.site, run.records)
    return after(run, lambda: database.migrations_count(run.site.postgres()))


@when("se cuentan las filas del estado previo ausentes tras la restauración")
def count_loss(run: Run) -> None:
    restore_strategy.count_loss(run.incident, run.site, run.records)


@verifies("la base de datos queda restaurada y django_migrations responde")
def restored(run: Run, restored_migrations: int) -> None:
    assert restored_migrations > 0, f"the restored database holds {restored_migrations} migrations"


@when("se consulta el estado de las migraciones", target_fixture="migrations")
def showmigrations(run: Run) -> dict[str, list[str] | None]:
    pending, output = database.pending_migrations(run.site)
    run.incident.note("migrations", pending=pending, output=output)
    return {
        "pending": pending,
        "rows": after(run, lambda: database.migration_rows(run.site.postgres())),
    }


@then("todas las migraciones están aplicadas, sin pendientes")
def no_pending(migrations: dict[str, list[str]]) -> None:
    assert not migrations["pending"], f"migrations pending at the target: {migrations['pending']}"


@verifies("el estado de migraciones es el registrado para la versión objetivo")
def recorded_migrations(run: Run, migrations: dict[str, list[str]]) -> None:
    mismatch = database.ledger_migration_mismatch(run.incident, run.records, migrations["rows"])
    assert not mismatch, mismatch


@when("se vuelca la base de datos previa al rollback con el servicio restablecido")
def dump_aside(run: Run) -> None:
    swap.dump_aside(run.incident, run.site, run.records)


@verifies("el backup de seguridad queda volcado y verificado en el directorio de backups")
def aside_dumped(run: Run) -> None:
    safety = run.records.known(SafetyDump)
    assert safety and safety.size and safety.sha256, f"no checked dump: {safety}"
