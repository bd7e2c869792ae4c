"""The fast database strategy (`database.restore_strategy: swap`), outside the procedure's letter.

Paso 4.0, before Etapa 2 and while the app still serves, restores the chosen backup into a shadow
database. In the downtime, Paso 4.3 renames the current database aside as
`<name>_pre_rollback_<ts>` and the shadow into place, in one transaction: the renamed database is
the pre-rollback backup. Paso 5.4, with the service back, dumps it to the backups folder (Paso
4.1's file of the procedure) and counts the rows of the pre-rollback state the restore lacks.
§9 is the rename back. Nothing in the downtime reads the whole database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from rollbook.actions import database, web
from rollbook.actions.database import (
    changed_since_backup,
    database_path,
    ident,
    literal,
    loss_statement,
    psql,
)
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.incident import Incident
from rollbook.core.operations import DatabaseSwapped, ShadowCreated
from rollbook.core.records import Records
from rollbook.core.resources import PostgresClient
from rollbook.core.site import Site
from rollbook.core.state import (
    ChosenBackup,
    DatabasePath,
    RowsRecovered,
    SafetyDump,
    ShadowRestored,
)


def enabled(site: Site, records: Records) -> bool:
    """Etapa 4 swaps databases: the strategy (Paso 1.2's choice for a recovery, else the
    environment file's), unless Paso 1.2 chose to reverse migrations."""
    chosen = records.known(DatabasePath)
    strategy = chosen.strategy if chosen and chosen.strategy else site.env.database.restore_strategy
    return strategy == "swap" and not database_path.migrating(records)


def _stamp(incident: Incident) -> str:
    return f"{incident.started.astimezone(UTC):%Y%m%d_%H%M%S}"


def _existing(pg: PostgresClient, *names: str) -> set[str]:
    listed = ", ".join(literal(n) for n in names)
    sql = f"SELECT datname FROM pg_database WHERE datname IN ({listed})"
    return set(psql(pg, sql, database="postgres").split())


def _oid(pg: PostgresClient, name: str) -> str:
    sql = f"SELECT oid FROM pg_database WHERE datname = {literal(name)}"
    return psql(pg, sql, database="postgres").strip()


def prepare_shadow(incident: Incident, site: Site, records: Records) -> ShadowRestored:
    """Paso 4.0: the verified backup restored into `<name>_shadow_<ts>`, with the app serving."""
    shadow = f"{site.env.database.name}_shadow_{_stamp(incident)}"
    pg = site.postgres()
    if _existing(pg, shadow):
        raise StepFailed(f"a database named {shadow} exists already: drop it or run again later")
    path = records.need(ChosenBackup).path
    started = datetime.now(UTC)
    expected = database.trial_prediction(records, "paso_4_0")
    with records.operation(ShadowCreated(shadow, path)):  # §9 drops it
        fmt, jobs = database.restore_into(pg, shadow, path, site.env.timeouts, expected=expected)
    seconds = (datetime.now(UTC) - started).total_seconds()
    if not site.planning:
        database.analyze(pg, shadow)  # before the downtime: it serves with the planner's statistics
        records.keys_restored = database.row_keys(pg, shadow)
        # the content Paso 4.5 compares with the pre-rollback one, read before the downtime:
        # nothing writes to the shadow, and nothing to the database it becomes before Paso 4.5
        records.prints_restored = database.fingerprints(pg, shadow)
        restored = records.keys_restored
        database_path.estimate_restore_loss(incident, site, records, restored, "Paso 4.0")
        changed_since_backup.estimate(incident, site, records, shadow, "Paso 4.0")
    return records.keep(ShadowRestored(shadow, path, fmt, jobs, seconds))


def keep_aside(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Paso 4.1 under swap: the pre-rollback backup is the database itself, renamed aside whole at
    Paso 4.3 (identified here by its oid) and dumped to the backups folder at Paso 5.4."""
    db = site.env.database
    stamp = _stamp(incident)
    aside = f"{db.name}_pre_rollback_{stamp}"
    pg = site.postgres()
    if _existing(pg, aside):
        raise StepFailed(f"a database named {aside} exists already: drop or rename it first")
    kept = SafetyDump(
        f"{db.backups}/pre_rollback_{stamp}.sql",
        database=aside,
        oid=_oid(pg, db.name),
        dumped_at="Paso 5.4",
    )
    return records.keep(kept).value()


def _kept(records: Records) -> SafetyDump:
    safety = records.known(SafetyDump)
    if safety is None:
        raise UserError("internal order error: Paso 4.1 did not keep the pre-rollback database")
    return safety


def swap_in(incident: Incident, site: Site, records: Records) -> None:
    """Paso 4.3 under swap: current → aside and shadow → current, in one transaction."""
    name = site.env.database.name
    restored = records.need(ShadowRestored)
    shadow = restored.name
    aside = str(_kept(records).database)
    with records.operation(DatabaseSwapped(name, aside, shadow)):  # §9 renames them back
        psql(
            site.postgres(),
            f"ALTER DATABASE {ident(name)} RENAME TO {ident(aside)}; "
            f"ALTER DATABASE {ident(shadow)} RENAME TO {ident(name)}",
            database="postgres",
            mutating=True,
        )
    incident.note("database_restored", name=name, source=restored.source)


def dump_aside(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Paso 5.4, once the health URL answers 200 (the downtime ends there): the database kept
    aside dumped to Paso 4.1's file, checked, rows lost counted."""
    if not site.planning:
        web.health_check(incident, site)
    safety = _kept(records)
    aside, path = str(safety.database), safety.path
    # 4.2 closed it to connections before the rename: open it for pg_dump (the app knows it not)
    pg = site.postgres()
    psql(
        pg,
        f"ALTER DATABASE {ident(aside)} WITH ALLOW_CONNECTIONS true",
        database="postgres",
        mutating=True,
    )
    checked = database.checked_dump(pg, aside, path, site.env.timeouts)
    if site.planning:
        return records.keep(replace(safety, **checked)).value()
    if records.known(RowsRecovered):
        incident.say("rows lost: counted by Paso 4.5, which put back what it could")
    elif records.keys_restored is None:
        incident.say("data loss not counted: Paso 4.0 ran in the resumed incident")
    else:
        lost = database.lost_keys(database.row_keys(pg, aside), records.keys_restored)
        loss_statement.note(incident, records, lost)
    return records.keep(replace(safety, **checked)).value()


def undo(incident: Incident, site: Site, swapped: DatabaseSwapped) -> str:
    """§9: the pre-rollback database back under its name; the one swapped in is kept, renamed."""
    name, aside = swapped.name, swapped.aside
    pg = site.postgres()
    present = _existing(pg, name, aside)
    if aside not in present:
        if name in present:
            return f"{name} is already the pre-rollback database"
        raise StepFailed(f"neither {name} nor {aside} exists: restore from the backups folder")
    failed = f"{name}_failed_{_stamp(incident)}"
    if name in present:
        psql(
            pg,
            f"ALTER DATABASE {ident(name)} WITH ALLOW_CONNECTIONS false; "
            f"SELECT count(pg_terminate_backend(pid)) {database.others_clause(name)}",
            database="postgres",
            mutating=True,
        )
        psql(
            pg,
            f"ALTER DATABASE {ident(name)} RENAME TO {ident(failed)}; "
            f"ALTER DATABASE {ident(aside)} RENAME TO {ident(name)}",
            database="postgres",
            mutating=True,
        )
        return f"{aside} is {name} again; the database swapped in is kept as {failed}"
    psql(
        pg,
        f"ALTER DATABASE {ident(aside)} RENAME TO {ident(name)}",
        database="postgres",
        mutating=True,
    )
    return f"{aside} is {name} again"


def drop_shadow(site: Site, shadow: str) -> None:
    """§9 before the swap: the shadow database is only a copy of a backup."""
    site.postgres().run("dropdb", shadow, before=["--if-exists"], mutating=True)


def is_pre_rollback_database(site: Site, oid: str) -> tuple[bool, str]:
    """§9's check under swap: the database under the app's name is the very one kept aside."""
    found = _oid(site.postgres(), site.env.database.name)
    return found == oid, f"oid {found}, pre-rollback oid {oid}"


def shadow_migrations(site: Site, records: Records) -> int:
    """The shadow database's django_migrations rows (Paso 4.0 restored it)."""
    return database.migrations_count(site.postgres(), records.need(ShadowRestored).name)
