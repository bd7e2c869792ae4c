"""Before Etapa 2, where a restored copy of the backup exists (Paso 1.3's trial restore, swap's
Paso 4.0) and the way back restores without Paso 4.5: the rows present in both the database now
and the backup with other content — the restore puts their backup content back, the newer stays
only in the safety dump. Per table of both with a primary key, the columns both have are
compared: the key ranges whose rows differ first (row_ranges, one pass on each side), then the
rows of those ranges by key and hash; the first SHOWN changed rows of each table named with their
columns, the backup's value → the one now (changed_rows.described). Rows written after the
estimate are not in it (said with when it was made)."""

from __future__ import annotations

import json

from rollbook.actions import database
from rollbook.actions.database import changed_rows, ident, key_text, psql, row_ranges
from rollbook.actions.database.loss_statement import SHOWN
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.resources import PostgresClient
from rollbook.core.site import Site
from rollbook.core.state import DatabasePath, RowsChanged

COLUMNS = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
)


def estimate(incident: Incident, site: Site, records: Records, copy: str, when: str) -> None:
    """RowsChanged of the database now against `copy` (the backup restored), where the way back
    restores without Paso 4.5 (which names its own conflicts)."""
    chosen = records.known(DatabasePath)
    if not chosen or chosen.path != "restore" or chosen.recover:
        return
    try:
        counted, named = _compared(site.postgres(), copy)
    except (StepFailed, ValueError) as exc:  # an estimate: never a failure of its Paso
        incident.say(f"WARNING: rows changed since the backup not estimated ({when}): {exc}")
        return
    records.keep(RowsChanged(counted, named, when))
    if counted:
        incident.say(
            f"rows the restore would put back to the backup's content ({when}): "
            f"{sum(counted.values())}: {counted}"
        )


def _compared(
    pg: PostgresClient, copy: str
) -> tuple[dict[str, int], dict[str, dict[str, dict[str, list[str]]]]]:
    """Per table, the rows changed, counted and the first of them described."""
    here, there = _columns(pg, None), _columns(pg, copy)
    pks = database.primary_keys(pg)
    counted: dict[str, int] = {}
    named: dict[str, dict[str, dict[str, list[str]]]] = {}
    for table in sorted(here.keys() & there.keys()):
        key, common = pks.get(table), [c for c in here[table] if c in there[table]]
        if not key or not set(key) <= set(common) or table == database.BOOKKEEPING:
            continue
        keys = _changed_keys(pg, copy, table, key, common)
        if keys:
            counted[table] = len(keys)
            named[table] = _described(
                pg, copy, table, key, common, sorted(keys, key=_order)[:SHOWN]
            )
    return counted, named


def _order(key: str) -> tuple[bool, int, str]:
    """Integer keys by value, before any other key by its text."""
    whole = key.lstrip("-").isdigit()
    return (not whole, int(key) if whole else 0, key)


def _columns(pg: PostgresClient, database_name: str | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in psql(pg, COLUMNS, database=database_name).splitlines():
        table, _, column = line.partition("|")
        found.setdefault(table, []).append(column)
    return found


def _changed_keys(
    pg: PostgresClient, copy: str, table: str, key: list[str], common: list[str]
) -> set[str]:
    """The keys present on both sides whose rows (their common columns) differ."""
    ranges = row_ranges.differing(pg, copy, table, {c: c for c in common}, key)
    if ranges is not None and not ranges.ranges:
        return set()
    where = f" WHERE {ranges.where('x')}" if ranges else ""
    # the hash first: a key's text may hold psql's separator
    sql = (
        f"SELECT md5({row_ranges.row_text('x', common)}), {key_text(key)} "
        f"FROM public.{ident(table)} AS x{where}"
    )
    now, then = (
        dict(
            reversed(line.split("|", 1))
            for line in psql(pg, sql, database=name).splitlines()
            if "|" in line
        )
        for name in (None, copy)
    )
    return {k for k, digest in now.items() if k in then and then[k] != digest}


def _described(
    pg: PostgresClient, copy: str, table: str, key: list[str], common: list[str], keys: list[str]
) -> dict[str, dict[str, list[str]]]:
    """{key: {column: [backup's value, value now]}} of the columns that differ."""
    chosen = database.having_keys(key, keys)
    sql = (
        f"SELECT json_build_array({key_text(key)}, to_jsonb(x)) FROM public.{ident(table)} "
        f"AS x WHERE {chosen}"
    )
    now, then = (
        dict(json.loads(line) for line in psql(pg, sql, database=name).splitlines())
        for name in (None, copy)
    )
    described = {
        k: {
            c: [changed_rows.cut(then[k].get(c)), changed_rows.cut(now[k].get(c))]
            for c in common
            if then[k].get(c) != now[k].get(c)
        }
        for k in keys
        if k in now and k in then
    }
    # a column whose type changed hashes differently with the same value: nothing to name
    return {k: columns for k, columns in described.items() if columns}
