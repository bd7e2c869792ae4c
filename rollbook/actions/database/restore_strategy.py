"""Etapa 4's Pasos by the way back Paso 1.2 chose (database_path.py) and
`database.restore_strategy`: the procedure's recreate (this package's __init__), swap
(swap.py), or nothing left to restore when Paso 3.0 reversed the migrations. The step
definitions call these and never choose."""

from __future__ import annotations

from dataclasses import replace

from rollbook.actions import database
from rollbook.actions.database import database_path, loss_statement, swap
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.site import Site
from rollbook.core.state import ChosenBackup, SafetyDump


def ahead(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Paso 4.0, with the app serving: the shadow restore (swap), else Paso 4.1's safety dump
    where the cluster is not being written to ({} where it is)."""
    if swap.enabled(site, records) and not database_path.migrating(records):
        shadow = swap.prepare_shadow(incident, site, records)
        return {"shadow": shadow.name}
    return database.early_safety_backup(incident, site, records)


def ahead_verified(site: Site, records: Records, done: dict[str, object]) -> str | None:
    """What is wrong with Paso 4.0's work, or None: the shadow answers with its migrations; a
    dump is checked (or none was taken: the cluster was being written to)."""
    if "shadow" in done:
        found = swap.shadow_migrations(site, records)
        return None if found > 0 else f"the shadow database holds {found} migrations"
    if done and not (done["size"] and done["sha256"]):
        return f"Paso 4.0's safety dump not verified: {done}"
    return None


def safety_backup(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Paso 4.1 (Paso 3.0 when it reverses the migrations): the dump of the current state —
    Paso 4.0's where no transaction has written since it — or the database itself identified to
    be kept (swap)."""
    if swap.enabled(site, records) and not database_path.migrating(records):
        return swap.keep_aside(incident, site, records)
    taken = records.known(SafetyDump)
    if taken and taken.current:
        incident.say(
            f"safety backup: {taken.path}, the current state's, kept at Paso 3.0 "
            "before the reversal"
        )
        return taken.value()
    if taken and database.still_current(site, taken):
        incident.say(
            f"safety backup: {taken.path}, taken at Paso 4.0 with the app serving: "
            f"no transaction has written since (next id {taken.horizon})"
        )
        return records.keep(replace(taken, current=True)).value()
    if taken:
        incident.say(
            f"safety backup: {taken.path} (Paso 4.0) is no longer the current "
            "state (a transaction wrote since): dumping again"
        )
    return database.safety_backup(site, records)


def safety_verified(site: Site, records: Records, safety: dict[str, object]) -> bool:
    """Paso 4.1's criterion: a checked dump; under swap the database to keep (its dump: 5.4)."""
    return (
        bool(safety["oid"])
        if swap.enabled(site, records)
        else bool(safety["size"] and safety["sha256"])
    )


def restore(incident: Incident, site: Site, records: Records) -> None:
    """Paso 4.3: dropdb/createdb/restore, the rename of the shadow into place, or (Paso 3.0
    reversed the migrations) the database opened again to connections, as it is."""
    if database_path.migrating(records):
        incident.say(
            "the database is at the target's migrations since Paso 3.0: nothing to restore"
        )
        database.set_connections(site, records, allowed=True)
    elif swap.enabled(site, records):
        swap.swap_in(incident, site, records)
    else:
        predicted = database.trial_prediction(records, "paso_4_3")  # the trial read the same file
        database.restore_database(
            incident, site, records, records.need(ChosenBackup).path, predicted
        )


def count_loss(incident: Incident, site: Site, records: Records) -> None:
    """Paso 4.3: the rows of the pre-rollback state (Paso 4.1's keys) absent after the restore or
    the reversal — counted before the services start again: once they do, new rows take the
    dropped rows' keys (the sequences are the backup's) and would hide them. Swap counts at Paso
    5.4 and a recovery at Paso 4.5; when Paso 1.3's trial restore read the backup's keys, the
    count needs no pass over the restored database."""
    if swap.enabled(site, records):
        incident.say("swap: rows lost are counted at Paso 5.4, with the service back")
    elif database_path.recovering(records):
        incident.say("rows lost are counted by Paso 4.5, after it puts back what it can")
    elif None not in (records.keys_before, records.keys_restored) and not database_path.migrating(
        records
    ):
        incident.say("rows lost counted against the backup's keys read by Paso 1.3's trial restore")
        lost = database.lost_keys(records.keys_before or {}, records.keys_restored or {})
        loss_statement.note(incident, records, lost)
    else:
        loss_statement.note(incident, records, database.data_loss(incident, site, records))
