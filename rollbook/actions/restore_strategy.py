"""Etapa 4's Pasos by `database.restore_strategy`: the procedure's recreate
(rollbook/actions/database.py) or swap (rollbook/actions/swap.py). The step definitions call
these and never choose."""

from __future__ import annotations

from rollbook.actions import database, swap
from rollbook.core.run import Run


def safety_backup(run: Run) -> dict[str, object]:
    """Paso 4.1: the dump (recreate), or the database itself identified to be kept (swap)."""
    return swap.keep_aside(run) if swap.enabled(run) else database.safety_backup(run)


def safety_verified(run: Run, safety: dict[str, object]) -> bool:
    """Paso 4.1's criterion: a checked dump; under swap the database to keep (its dump: 5.4)."""
    return bool(safety["oid"]) if swap.enabled(run) else bool(safety["size"] and safety["sha256"])


def restore(run: Run) -> None:
    """Paso 4.3: dropdb/createdb/restore, or the rename of the shadow into place."""
    if swap.enabled(run):
        swap.swap_in(run)
    else:
        database.restore_database(run, run.fact("backup")["path"])


def count_loss(run: Run) -> None:
    """Paso 4.3: rows of the pre-rollback state absent; under swap counted at Paso 5.4."""
    if swap.enabled(run):
        run.say("swap: rows lost are counted at Paso 5.4, with the service back")
    else:
        run.record("data_loss", tables=database.data_loss(run))
