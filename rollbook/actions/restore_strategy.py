"""Etapa 4's Pasos by the way back Paso 1.2 chose (database_path.py) and
`database.restore_strategy`: the procedure's recreate (rollbook/actions/database.py), swap
(rollbook/actions/swap.py), or nothing left to restore when Paso 3.0 reversed the migrations. The
step definitions call these and never choose."""

from __future__ import annotations

from rollbook.actions import database, database_path, loss_statement, swap
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.site import Site
from rollbook.core.state import ChosenBackup, SafetyDump


def safety_backup(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Paso 4.1: the dump (recreate; Paso 3.0's when it reversed the migrations), or the
    database itself identified to be kept (swap)."""
    if database_path.migrating(records):
        taken = records.known(SafetyDump)
        if taken:
            incident.say(f"safety backup: {taken.path}, taken at Paso 3.0 before the reversal")
            return taken.value()
        return database.safety_backup(site, records)
    return (
        swap.keep_aside(incident, site, records)
        if swap.enabled(site, records)
        else database.safety_backup(site, records)
    )


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
