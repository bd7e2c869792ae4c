"""Which way the database goes back, chosen at Paso 1.2 before any change (`database.rollback`).

- `restore` (the procedure as written, one setting away): Etapa 4 restores the backup; the rows
  written since it are lost, and counted.
- `migrate`: Paso 3.0, with the deployed code still in place and the services stopped, takes
  Paso 4.1's safety dump and runs the reverse `migrate` commands; every row is kept. Refused at
  Paso 1.2 unless the classification says reversing loses nothing older than the deploy.
- `restore_recover`: `restore`, then Paso 4.5 puts back the rows the restore dropped
  (row_recovery.py), listing what it cannot.
- `least_loss` (the default: §7.1 asks for 0 data loss): `migrate` where that holds, else
  `restore_recover`.

What the reversal drops (values of columns and tables only the deployed release has) is counted
here, before Etapa 2, and kept in the safety dump. §9 after Paso 3.0 restores that dump.
"""

from __future__ import annotations

import contextlib
from typing import Any

from rollbook.actions import database
from rollbook.actions.database import ident, loss_statement, owner, psql, row_labels
from rollbook.actions.database.loss_statement import UNNAMED
from rollbook.actions.database.migration_plan import describe
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.operations import MigrationsReversing
from rollbook.core.records import Keys, Records
from rollbook.core.resources import Venv
from rollbook.core.site import Site
from rollbook.core.state import DatabasePath, MigrationPlan, RowLabels, RowsChanged, SafetyDump

LOSSLESS = ("reversible", "same")  # Paso 1.2's kinds where reversing keeps every older row
_REASONS = {  # why each path, for the record
    "restore": "el procedimiento tal como está escrito; las filas escritas después del backup se "
    "pierden (least_loss, por defecto, las conserva)",
    "restore_recover": "se restaura el backup y el Paso 4.5 recupera filas",
    "migrate": "se revierten con el código desplegado, sin restaurar el backup: se conservan "
    "todas las filas",
    "least_loss": "revertirlas no basta: se restaura el backup y el Paso 4.5 recupera las filas "
    "escritas después",
}


def choose(incident: Incident, site: Site, records: Records) -> DatabasePath:
    """Paso 1.2: the path, why, and what reversing would drop (counted now)."""
    plan = records.need(MigrationPlan)
    policy = site.env.database.rollback
    drops, drop_keys = dropped_values(site, plan.operations)
    if policy == "migrate" and plan.kind not in LOSSLESS:
        raise StepFailed(
            f"database.rollback is migrate, but the migrations are {plan.kind}: {plan.why} "
            "— set database.rollback: least_loss (or restore) in the environment file"
        )
    if policy in ("restore", "restore_recover"):
        path, reason = "restore", _REASONS[policy]
    elif plan.kind in LOSSLESS:
        path, reason = "migrate", f"migraciones {plan.kind}: {_REASONS['migrate']}"
    else:
        path, reason = "restore", f"migraciones {plan.kind}: {_REASONS['least_loss']}"
    recover = path == "restore" and policy in ("restore_recover", "least_loss")
    strategy, how = _strategy(site, recover)
    why = f"database.rollback: {policy} ({_source(site)}): {reason}{how}"
    fact = records.keep(DatabasePath(path, policy, why, drops, recover, strategy, drop_keys))
    incident.say(
        f"database: {path} — {why}" + (f"; reversing the migrations drops {drops}" if drops else "")
    )
    return fact


def _strategy(site: Site, recover: bool) -> tuple[str, str]:
    """Etapa 4's restore strategy and why: the environment file's when it names one; for a
    recovery where it does not, swap when the app's role owns the database — Paso 4.5 then reads
    the database kept aside, where recreate restores the safety dump into a copy inside the
    downtime —, else recreate."""
    db = site.env.database
    if not recover or "restore_strategy" in db.model_fields_set:
        return db.restore_strategy, ""
    if owner(site.postgres(), db.name) == db.user:
        return "swap", (
            "; se restaura por swap (por defecto con el Paso 4.5: lee la base de datos apartada, "
            "sin restaurar el backup de seguridad en una copia durante la caída)"
        )
    return "recreate", (
        f"; se restaura por recreate: {db.user} no es el dueño de {db.name} (swap lo necesita), "
        "el Paso 4.5 lee una copia restaurada del backup de seguridad"
    )


def _source(site: Site) -> str:
    """Where the policy comes from: the environment file, or the default (recorded either way)."""
    if "rollback" in site.env.database.model_fields_set:
        return "elegido en el archivo del ambiente"
    return "por defecto"


def dropped_values(
    site: Site, operations: list[dict[str, Any]]
) -> tuple[dict[str, int | None], dict[str, list[str]]]:
    """Per `table.column` (or table), the values reversing would drop: only the deployed release
    has them — counted, and the keys of the first rows holding them (loss_statement.SHOWN, in key
    order). Not counted (None, no keys) where the column or table is no longer there under that
    name (a later migration renamed or removed it): never a failure of Paso 1.2."""
    pg = site.postgres()
    counted: dict[str, int | None] = {}
    keys: dict[str, list[str]] = {}
    dropping = [op for op in operations if op["effect"] == "drops"]
    pks = database.primary_keys(pg) if dropping else {}
    for op in dropping:
        table, column = op["table"], op.get("column")
        name = f"{table}.{column}" if column else table
        where = f" WHERE x.{ident(column)} IS NOT NULL" if column else ""
        pk = pks.get(table)
        order = f" ORDER BY {', '.join(f'x.{ident(c)}' for c in pk)}" if pk else ""
        rows = f"FROM public.{ident(table)} AS x{where}"
        try:
            counted[name] = int(psql(pg, f"SELECT count(*) {rows}").strip() or 0)
        except StepFailed:
            counted[name] = None
            continue
        if pk:  # a table without one: its values counted, no row to name
            first = f"SELECT {database.key_text(pk)} {rows}{order} LIMIT {loss_statement.SHOWN}"
            with contextlib.suppress(StepFailed):  # counted, not named
                keys[name] = psql(pg, first).splitlines()
    return counted, {
        n: [loss_statement.name(k) for k in found] for n, found in keys.items() if found
    }


def estimate_restore_loss(
    incident: Incident, site: Site, records: Records, restored: Keys, when: str
) -> None:
    """Before Etapa 2, where a restored copy of the backup exists (Paso 1.3's trial restore, swap's
    Paso 4.0): the rows of the database now that restoring it would lose, per table; where the
    way back restores, the app's own labels of the first of them (row_labels), asked once: rows
    written after the first question are named by key alone."""
    now = database.row_keys(site.postgres())
    keys = {t: k for t, k in database.lost_keys(now, restored).items() if k}
    lost = {t: len(k) for t, k in keys.items()}
    incident.note("restore_loss_estimate", tables=lost, rows=sum(lost.values()), when=when)
    incident.say(
        f"restoring the backup would lose {sum(lost.values())} rows now ({when})"
        + (f": {lost}" if lost else "")
    )
    if keys and not migrating(records) and records.known(RowLabels) is None:  # asked once
        names = {
            t: [loss_statement.name(k) for k in rows[: loss_statement.SHOWN]]
            for t, rows in keys.items()
        }
        first = {t: shown for t, shown in names.items() if UNNAMED not in shown}
        records.keep(RowLabels(row_labels.ask(incident, site, first), when))


def recovering(records: Records) -> bool:
    """Paso 1.2 chose to restore, then put back the rows the restore drops (Paso 4.5)."""
    chosen = records.known(DatabasePath)
    return bool(chosen and chosen.recover)


def why(records: Records) -> str:
    """Why Paso 1.2 chose its path (the procedure's restore when it has not chosen)."""
    chosen = records.known(DatabasePath)
    return chosen.why if chosen else "database.rollback: restore"


def migrating(records: Records) -> bool:
    """Paso 1.2 chose to reverse the migrations (not to restore the backup)."""
    chosen = records.known(DatabasePath)
    return bool(chosen and chosen.path == "migrate")


def reverse(incident: Incident, site: Site, records: Records) -> None:
    """Paso 3.0, after its safety dump: the reverse `migrate` commands with the deployed code
    (its migration files know how to undo themselves; the target's do not exist yet)."""
    plan = records.need(MigrationPlan)
    venv = Venv(site.first_host("app"), site.env.app)
    with records.operation(MigrationsReversing(plan.commands)):  # §9 restores the safety dump
        for app, to in plan.targets:
            venv.manage(
                "migrate",
                app,
                to or "zero",
                "--noinput",
                mutating=True,
                timeout=site.env.timeouts.restore,
            )
    if not site.planning:  # the record's timeline line for the database (Paso 7.1)
        incident.note("database_reversed", commands=plan.commands)


def left_over(site: Site, records: Records) -> list[str]:
    """The deployed release's migrations still in django_migrations after Paso 3.0."""
    rows = database.migration_rows(site.postgres())
    return [m for m in records.need(MigrationPlan).extra if m in rows]


def summary(facts: dict[str, dict[str, Any]]) -> str:
    """The chosen path, for the record."""
    chosen, plan = DatabasePath.read(facts), MigrationPlan.read(facts)
    if not chosen:
        return "n/d"
    dropped = [describe(o) for o in (plan.operations if plan else []) if o["effect"] == "drops"]
    counts = chosen.drops or {}
    said = f"{chosen.path} ({chosen.why})"
    if chosen.path == "migrate" and dropped:
        said += "; " + "; ".join(dropped) + f": {_total(counts)} valores"
    estimate = facts.get("restore_loss_estimate")
    if estimate:
        said += (
            f"; restaurar el backup perdería {estimate['rows']} filas (estimado en "
            f"{estimate['when']}, antes de la Etapa 2)"
        )
    labels = RowLabels.read(facts)
    if estimate and labels and labels.tables:  # the first of them, as the app names them
        said += "; entre ellas " + "; ".join(
            f"{table}: " + loss_statement.shown(table, list(rows), labels)
            for table, rows in labels.tables.items()
        )
    changed = RowsChanged.read(facts)
    if changed and changed.tables:
        tables = ", ".join(f"{t}: {n}" for t, n in changed.tables.items())
        said += (
            f"; {sum(changed.tables.values())} filas cambiadas desde el backup volverían a su "
            f"contenido del backup ({tables}; estimado en {changed.when})"
        )
    return said


def dropped_note(facts: dict[str, dict[str, Any]]) -> str:
    """After a reversal: the values it dropped (only the deployed release had them), and where
    they are kept; "" when none."""
    chosen = DatabasePath.read(facts)
    counts = {k: n for k, n in (chosen.drops if chosen else {}).items() if n != 0}
    if not chosen or chosen.path != "migrate" or not counts:
        return ""
    kept = SafetyDump.read(facts)
    safety = kept.path if kept else "el backup de seguridad"
    keys = chosen.drop_keys
    listed = ", ".join(
        f"{k}: {'n/d' if n is None else n}"
        + (
            f" (claves {', '.join(keys[k])}{' …' if (n or 0) > len(keys[k]) else ''})"
            if keys.get(k)
            else ""
        )
        for k, n in counts.items()
    )
    return (
        f" — la reversión retiró valores que solo tenía la versión desplegada ({listed}); "
        f"quedan en {safety}"
    )


def _total(counts: dict[str, int | None]) -> str:
    """The values counted, "n/d" when one could not be."""
    return "n/d" if None in counts.values() else str(sum(n or 0 for n in counts.values()))
