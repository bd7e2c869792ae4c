"""Paso 1.3 with `database.verify_by_restore: true`: the chosen backup proven by restoring it.

Before the first change (and in a dry-run's plan), the backup is restored into a scratch database
`<name>_trial_<ts>`, checked (its marker table answers), measured, and dropped. The measured rate
gives the predicted duration of Etapa 4, shown in the plan and the report; the copy's row keys,
the rows a restore would lose. The scratch database is
the run's one declared write before Etapa 2: journaled as such, never counted as a change.
"""

from __future__ import annotations

import time

from rollbook.actions import database
from rollbook.actions.database import changed_since_backup, database_path, literal, psql, swap
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.resources import PostgresClient
from rollbook.core.site import Site
from rollbook.core.state import ChosenBackup, TrialRestore


def _size(pg: PostgresClient, name: str) -> int:
    return int(psql(pg, f"SELECT pg_database_size({literal(name)})", database="postgres"))


def predicted_etapa4(
    site: Site, records: Records, restore_s: float, rate: float
) -> dict[str, float]:
    """Seconds of Etapa 4 by strategy: recreate dumps the current database (estimated at the
    restore's rate, an upper bound: a dump writes no index) and restores; swap only renames in the
    downtime, the restore moving to Paso 4.0."""
    if swap.enabled(site, records):
        return {"paso_4_0": restore_s, "etapa4_downtime": 1.0}
    dump_s = _size(site.postgres(), site.env.database.name) / rate
    return {"paso_4_1": dump_s, "paso_4_3": restore_s, "etapa4": dump_s + restore_s}


def trial_restore(incident: Incident, site: Site, records: Records) -> TrialRestore | None:
    if not site.env.database.verify_by_restore:
        return None
    db, pg = site.env.database, site.postgres()
    scratch = f"{db.name}_trial_{incident.started:%Y%m%d_%H%M%S}"
    path = records.need(ChosenBackup).path
    incident.say(f"trial restore of {path} into {scratch} (created, checked and dropped) …")
    started = time.monotonic()
    try:
        fmt, jobs = database.restore_into(pg, scratch, path, site.env.timeouts, declared=True)
        seconds = max(time.monotonic() - started, 0.001)
        marker = db.marker_table or "django_migrations"
        rows = int(psql(pg, f"SELECT count(*) FROM {database.ident(marker)}", database=scratch))
        size = _size(pg, scratch)
        restored = database.row_keys(pg, scratch)
        changed_since_backup.estimate(incident, site, records, scratch, "Paso 1.3")
    except StepFailed as exc:
        raise StepFailed(f"the backup {path} does not restore: {exc}") from None
    finally:
        pg.run("dropdb", scratch, before=["--if-exists"], mutating=True, declared=True)
    records.keys_restored = restored  # the restore's keys: Paso 4.3 counts the loss without a pass
    database_path.estimate_restore_loss(incident, site, records, restored, "Paso 1.3")
    rate = size / seconds
    predicted = predicted_etapa4(site, records, seconds, rate)
    incident.say(
        f"restauración de prueba: {seconds:.1f} s para {size / 2**20:.0f} MiB "
        f"({rate / 2**20:.1f} MiB/s); Etapa 4 prevista: {describe(predicted)}"
    )
    return records.keep(TrialRestore(scratch, path, fmt, jobs, seconds, size, rows, predicted))


def describe(predicted: dict[str, float]) -> str:
    if "etapa4" in predicted:
        return (
            f"{predicted['etapa4']:.1f} s (pg_dump ≤ {predicted['paso_4_1']:.1f} s, restauración "
            f"{predicted['paso_4_3']:.1f} s)"
        )
    return (
        f"≈ {predicted['etapa4_downtime']:.0f} s en la caída (renombres); la restauración, "
        f"{predicted['paso_4_0']:.1f} s, corre en el Paso 4.0 con el servicio arriba"
    )
