"""The rows a restore lost, named: per table, the primary keys of the pre-rollback rows it did not
bring back (rollbook.actions.database.lost_keys), so a person can tell each row's owner. The
record shows the first SHOWN keys of each table; the whole list is LIST_FILE in the incident
folder (0600, in SHA256SUMS, signed with the record)."""

from __future__ import annotations

import os

from rollbook.actions.database import UNKEYED
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.state import DataLoss, RowLabels

SHOWN = 10  # keys per table in the markdown, report.html and the console
LIST_FILE = "filas_perdidas.tsv"
UNNAMED = "sin clave primaria"  # a row of a table without one: counted by its content's hash


def note(
    incident: Incident,
    records: Records,
    lost: dict[str, list[int | str]] | None,
    tables: dict[str, int] | None = None,
    *,
    recovered: bool = False,
    conflicts: dict[str, int] | None = None,
) -> None:
    """The DataLoss fact: rows lost per table, counted (`tables`, else the keys') and named (None:
    not counted); after Paso 4.5 (`recovered`), its conflicts apart. The console and the list
    file name each row with the app's label where RowLabels (asked before any change) has one."""
    if lost is None:
        records.keep(DataLoss(tables, recovered=recovered, conflicts=conflicts or {}))
        return
    named = {t: [name(k) for k in keys[:SHOWN]] for t, keys in lost.items() if keys}
    counted = tables if tables is not None else {t: len(k) for t, k in lost.items()}
    labels = records.known(RowLabels)
    listed = _write_list(incident, lost, labels) if named else None
    records.keep(DataLoss(counted, named, listed, recovered, conflicts or {}))
    for table, keys in named.items():
        unshown = len(lost[table]) - len(keys)
        incident.say(
            f"rows lost in {table}: {shown(table, keys, labels)}"
            + (f" and {unshown} more" if unshown else "")
        )
    if listed:
        incident.say(f"every key of the rows lost: {listed}")


def shown(table: str, keys: list[str], labels: RowLabels | None) -> str:
    """A table's keys, each with its label where the app gave one: 201 «Order #201 (paid,
    120.00)», 202."""
    mine = labels.tables.get(table, {}) if labels else {}
    return ", ".join(k + (f" «{mine[k]}»" if mine.get(k) else "") for k in keys)


def name(key: int | str) -> str:
    """A key as the record shows it: the value of a one-column key, the JSON list of a key of
    several, UNNAMED for a table without one."""
    return UNNAMED if isinstance(key, str) and key.startswith(UNKEYED) else str(key)


def _write_list(
    incident: Incident, lost: dict[str, list[int | str]], labels: RowLabels | None
) -> str:
    """Every key lost, one line each ("tabla<TAB>clave<TAB>etiqueta", the label where the app
    gave one), into the incident folder (0600)."""
    path = incident.folder / LIST_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("tabla\tclave\tetiqueta\n")
        for table, keys in lost.items():
            mine = labels.tables.get(table, {}) if labels else {}
            out.writelines(f"{table}\t{name(k)}\t{mine.get(name(k), '')}\n" for k in keys)
    return str(path)
