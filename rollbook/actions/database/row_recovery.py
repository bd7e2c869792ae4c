"""Paso 4.5: the rows of the pre-rollback state the restore dropped, put back (issue 18, path 2).

With the services still stopped (no new row can take a recovered row's key), table by table in
foreign-key order: for each table whose content differs (fingerprints) between the pre-rollback
database (swap: the one kept aside; recreate: the safety dump restored into a scratch database)
and the restored one, the pre-rollback rows the restored table lacks or holds with other content
(compared by key and row hash) are copied with PostgreSQL's COPY into a `rollbook_salvage` schema
of the restored one — the columns both have (renames mapped back), the others as JSON. Then, in
one statement list per table: the rows whose primary key the restored table lacks are inserted
where their parent rows exist; a key present with other content is a **conflict**, never
overwritten; serial sequences move past the recovered keys. What could not be put back (conflicts,
missing parents, unique values, columns the target lacks) is dumped to salvage.sql in the incident
folder (0600, hashed and signed with it) for a DBA; the schema and the scratch database are
dropped. §9 restores the safety dump, as after any change of Etapa 4.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict
from datetime import UTC
from graphlib import CycleError, TopologicalSorter
from typing import Any

from rollbook.actions import database
from rollbook.actions.database import (
    BOOKKEEPING,
    changed_rows,
    ident,
    literal,
    loss_statement,
    psql,
    row_ranges,
)
from rollbook.actions.database.row_ranges import KeyRanges, row_text
from rollbook.core.errors import UserError
from rollbook.core.incident import Incident
from rollbook.core.operations import SalvageScratch
from rollbook.core.records import Records
from rollbook.core.resources import PostgresClient
from rollbook.core.site import Site
from rollbook.core.state import MigrationPlan, RowsRecovered, SafetyDump

SCHEMA = "rollbook_salvage"
STATUS, EXTRA = "rollbook_status", "rollbook_extra"
SALVAGE_FILE = "salvage.sql"
ROW_ALIAS = "rollbook_row"
KEPT = "#kept"  # the tally's line of the rows left in the salvage table (never a status)


def _reg(table: str) -> str:
    return f"{literal('public.' + ident(table))}::regclass"


def columns(pg: PostgresClient, table: str, db: str | None = None) -> dict[str, bool]:
    """The table's columns → whether an insert must give it (NOT NULL, no default); generated
    columns left out (PostgreSQL computes them)."""
    sql = (
        "SELECT attname, attnotnull AND NOT atthasdef AND attidentity = '' "
        f"FROM pg_attribute WHERE attrelid = {_reg(table)} AND attnum > 0 AND NOT attisdropped "
        "AND attgenerated = '' ORDER BY attnum"
    )
    rows = psql(pg, sql, database=db).splitlines()
    return {name: required == "t" for name, required in (line.split("|") for line in rows)}


def foreign_keys(pg: PostgresClient, table: str) -> list[tuple[str, list[str], list[str]]]:
    """(parent table, columns, parent columns) of each foreign key of `table`."""

    def names(attrs: str, rel: str) -> str:
        return (
            f"(SELECT string_agg(attname, ',' ORDER BY k.n) FROM unnest({attrs}) WITH ORDINALITY "
            f"k(a, n) JOIN pg_attribute ON attrelid = {rel} AND attnum = k.a)"
        )

    sql = (
        f"SELECT (SELECT relname FROM pg_class WHERE oid = confrelid), "
        f"{names('conkey', 'conrelid')}, {names('confkey', 'confrelid')} "
        f"FROM pg_constraint WHERE contype = 'f' AND conrelid = {_reg(table)}"
    )
    rows = (line.split("|") for line in psql(pg, sql).splitlines())
    return [(parent, cols.split(","), refs.split(",")) for parent, cols, refs in rows]


def recover(incident: Incident, site: Site, records: Records) -> RowsRecovered | None:
    """Paso 4.5; the per-table statement, recorded (and data_loss recounted from it)."""
    pg = site.postgres()
    if site.planning:
        incident.say("Paso 4.5 would re-insert the rows the restore dropped (counted after it)")
        return None
    source, scratch = _source(incident, site, records, pg)
    try:
        # recreate: Paso 4.1 fingerprinted what the scratch database restores; swap: read them
        before = _safety(records).tables or database.fingerprints(pg, source)
        # swap: the shadow's content, read at Paso 4.0 before the downtime
        now = records.prints_restored if _safety(records).database else None
        now = now or database.fingerprints(pg)
        keys = database.primary_keys(pg)
        changed = [t for t, f in before.items() if t != BOOKKEEPING and t in now and now[t] != f]
        gone = [t for t in before if t not in now and t != BOOKKEEPING]
        tables = _in_order(pg, changed)
        statement: dict[str, dict[str, Any]] = {}
        psql(pg, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}", mutating=True)
        for table in tables:
            done = _recover_table(site, records, pg, source, table, keys.get(table, []))
            statement[table] = {"rows_before": before[table]["rows"], **done}
        for table in gone:  # only the pre-rollback schema has it: its rows are in the safety dump
            statement[table] = absent_table(int(str(before[table]["rows"])))
        salvage = (
            _keep_salvage(incident, site, pg)
            if any(s["kept"] for s in statement.values())
            else None
        )
    finally:
        psql(pg, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE", mutating=True)
        if scratch:
            drop_scratch(site, scratch)
    _note_loss(incident, records, statement, None)  # named by key once its criterion reads them
    said = ", ".join(f"{t}: {s['recovered']}/{s['dropped']}" for t, s in statement.items())
    incident.say(
        f"rows recovered (of those the restore dropped): {said or 'none to recover'}"
        + (f"; salvage for a DBA: {salvage}" if salvage else "")
    )
    return records.keep(RowsRecovered(statement, salvage, source))


def lost(entry: dict[str, Any]) -> int:
    """A table's rows lost after Paso 4.5: dropped and not put back. A conflict is not a loss:
    the row is there with the backup's content, its newer content in the salvage file — a
    person decides which stays (`conflicts`)."""
    return int(entry["dropped"]) - int(entry["recovered"])


def absent_table(rows: int) -> dict[str, Any]:
    """The statement of a table the restored schema lacks (the deployed release created it)."""
    return {
        "rows_before": rows,
        "dropped": rows,
        "recovered": 0,
        "conflicts": 0,
        "not_recovered": {"not recovered: table absent in the restored schema": rows}
        if rows
        else {},
        "columns_absent": [],
        "columns_renamed": {},
        "kept": 0,
    }


def unaccounted(incident: Incident, site: Site, records: Records) -> dict[str, int]:
    """Paso 4.5's criterion, observed: per table, the pre-rollback rows (by primary key) missing
    now that the statement does not list as not recovered; {} when every one is accounted for.
    The pre-rollback keys are Paso 4.1's (recreate) or the kept database's (swap). Read only
    where rows can be missing: the tables of the statement (the others' fingerprints were
    equal) and, in a table whose key ranges Paso 4.5 compared, the ranges whose sums differed.
    Run by Paso 4.5's Cuando: where the lost rows are these, the DataLoss fact names them by
    key."""
    done = records.need(RowsRecovered)
    pg, compared = site.postgres(), list(done.tables)
    ranges = {
        t: KeyRanges(**s["key_ranges"]) for t, s in done.tables.items() if s.get("key_ranges")
    }
    before = records.keys_before
    scratches = [scratch.name for scratch in records.begun(SalvageScratch)]
    if before is None and done.source not in scratches:
        chosen = {t: r.where("x", source=True) for t, r in ranges.items()}
        before = database.row_keys(pg, done.source, compared, chosen)
    if before is None:
        incident.say("Paso 4.5 not checked by keys: Paso 4.1 ran in the resumed incident")
        return {}
    before = {
        t: {k for k in keys if t not in ranges or ranges[t].holds(k)}
        for t, keys in before.items()
        if t in compared
    }
    now = database.row_keys(pg, only=compared, where={t: r.where("x") for t, r in ranges.items()})
    missing = database.lost_keys(before, now)
    listed = {t: lost(s) for t, s in done.tables.items()}
    off = {t: len(k) - listed.get(t, 0) for t, k in missing.items() if len(k) != listed.get(t, 0)}
    if not off:  # the rows the statement lists as lost are these: named by key
        _note_loss(incident, records, done.tables, missing)
    return off


def _note_loss(
    incident: Incident,
    records: Records,
    statement: dict[str, dict[str, Any]],
    keys: dict[str, list[int | str]] | None,
) -> None:
    """The data_loss fact after Paso 4.5: per table, the rows dropped and not put back (named by
    key when `keys` are read), and the conflicts apart."""
    changed = {t: s["conflicts"] for t, s in statement.items() if s["conflicts"]}
    tables = {t: lost(s) for t, s in statement.items()}
    loss_statement.note(incident, records, keys, tables, recovered=True, conflicts=changed)


def _safety(records: Records) -> SafetyDump:
    safety = records.known(SafetyDump)
    if safety is None:
        raise UserError("internal order error: Paso 4.5 runs after Paso 4.1's safety backup")
    return safety


def _source(
    incident: Incident, site: Site, records: Records, pg: PostgresClient
) -> tuple[str, str | None]:
    """The pre-rollback database to read from, and the scratch database made for it (if any)."""
    safety = _safety(records)
    if safety.database:  # swap: kept aside whole, closed to connections by Paso 4.2
        aside = safety.database
        psql(
            pg,
            f"ALTER DATABASE {ident(aside)} WITH ALLOW_CONNECTIONS true",
            database="postgres",
            mutating=True,
        )
        return aside, None
    scratch = f"{site.env.database.name}_salvage_{incident.started.astimezone(UTC):%Y%m%d_%H%M%S}"
    with records.operation(SalvageScratch(scratch)):  # §9 drops it if the run dies
        drop_scratch(site, scratch)
        database.restore_into(pg, scratch, safety.path, site.env.timeouts)
    return scratch, scratch


def drop_scratch(site: Site, name: str) -> None:
    """The scratch copy of the safety dump (only a copy: the dump stays)."""
    database.drop_database(site.postgres(), name)


def _in_order(pg: PostgresClient, tables: list[str]) -> list[str]:
    """`tables`, parents before the tables whose foreign keys name them."""
    graph = {
        t: {parent for parent, _, _ in foreign_keys(pg, t) if parent in tables and parent != t}
        for t in sorted(tables)
    }
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError:  # tables whose keys name each other: each insert checks its parents
        return sorted(tables)


def _renamed(records: Records, table: str) -> dict[str, str]:
    """Column renames of `table` by the undone migrations (Paso 1.2's plan): older → newer."""
    plan = records.known(MigrationPlan)
    ops = plan.operations if plan else []
    return {
        o["from_column"]: o["column"]
        for o in ops
        if o.get("from_column") and o.get("table") == table
    }


def source_columns(
    wanted: dict[str, bool], had: dict[str, bool], renamed: dict[str, str]
) -> dict[str, str]:
    """Each column of the restored table the pre-rollback rows can fill → its name there (the
    same, or what the undone migrations renamed it to, followed through every rename)."""
    found = {}
    for column in wanted:
        name, seen = column, set()
        while name not in had and name in renamed and name not in seen:
            seen.add(name)
            name = renamed[name]
        if name in had:
            found[column] = name
    return found


def _recover_table(
    site: Site, records: Records, pg: PostgresClient, source: str, table: str, key: list[str]
) -> dict[str, Any]:
    wanted = columns(pg, table)
    had = columns(pg, table, source)
    mapped = source_columns(wanted, had, _renamed(records, table))
    common = list(mapped)
    listed = ", ".join(ident(c) for c in common)
    salvage = f"{SCHEMA}.{ident(table)}"
    psql(
        pg,
        f"CREATE TABLE {salvage} AS SELECT {listed} FROM public.{ident(table)} WITH NO DATA; "
        f"ALTER TABLE {salvage} ADD COLUMN {EXTRA} jsonb, ADD COLUMN {STATUS} text",
        mutating=True,
    )
    ranges = _copy(site, pg, source, table, mapped, key or common)  # no key: by the whole row
    absent = [c for c, required in wanted.items() if required and c not in mapped]
    if not key:
        reason = "no primary key"
    elif absent:
        reason = f"column {', '.join(absent)} of the restored table absent before"
    else:
        reason = ""
    # one psql call: the recovery, then the rows counted by status and, in the same statement,
    # all but what stays for the DBA deleted (the rows put back whole); its snapshot counts them
    # before the delete, so what stays is the table's count less the deleted
    tally = (
        f"WITH counted AS (SELECT {STATUS} AS s, count(*) AS n FROM {salvage} "
        f"WHERE {STATUS} IS NOT NULL GROUP BY 1), gone AS (DELETE FROM {salvage} "
        f"WHERE {STATUS} IS NULL OR ({STATUS} = 'recovered' AND {EXTRA} = '{{}}'::jsonb) "
        f"RETURNING 1) SELECT s, n FROM counted UNION ALL SELECT {literal(KEPT)}, "
        f"(SELECT count(*) FROM {salvage}) - (SELECT count(*) FROM gone)"
    )
    out = psql(pg, f"{_recover_sql(pg, table, common, key, reason)}; {tally}", mutating=True)
    # psql shows every statement's result (command tags, setval's values): the tally's have a "|"
    tallied = (line.rsplit("|", 1) for line in out.splitlines() if "|" in line)
    counts = {s: int(n) for s, n in tallied}
    kept = counts.pop(KEPT)
    used = set(mapped.values())
    conflicts = counts.get("conflict", 0)
    # the first of them by key: each changed column, the backup's value → the newer one
    changed = (
        changed_rows.changed(pg, table, salvage, STATUS, key, [STATUS, EXTRA]) if conflicts else {}
    )
    return {
        "dropped": sum(n for s, n in counts.items() if s != "conflict"),
        "recovered": counts.get("recovered", 0),
        "conflicts": conflicts,
        "changed": changed,
        "not_recovered": {s: n for s, n in counts.items() if s.startswith("not recovered")},
        "columns_absent": [c for c in had if c not in used],
        "columns_renamed": {c: n for c, n in mapped.items() if c != n},
        "kept": int(kept),
        # the primary key's ranges Paso 4.5's criterion reads (a table without one: every row)
        "key_ranges": asdict(ranges) if ranges and key else None,
    }


def _copy(
    site: Site, pg: PostgresClient, source: str, table: str, mapped: dict[str, str], key: list[str]
) -> KeyRanges | None:
    """COPY into the salvage table the source rows (the mapped columns, the others as JSON) that
    the restored table lacks or holds with other content, psql to psql through pipes on the db
    host: the restored table's (key, row hash) go into a temporary table of the source session,
    so only those rows cross — not the whole table; where the key allows, only those of the key
    ranges whose sums differ (returned)."""
    names, mine = list(mapped.values()), list(mapped)
    others = ", ".join(literal(c) for c in names)
    src = ROW_ALIAS  # not `x`: to_jsonb(x) would be a column named x, if the table has one
    select = (
        f"SELECT {', '.join(f'{src}.{ident(c)}' for c in names)}, "
        f"to_jsonb({src}) - ARRAY[{others}]::text[] FROM public.{ident(table)} AS {src}"
    )
    base = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *pg.connection()]
    into = shlex.join(
        [
            *base,
            "-d",
            pg.database.name,
            "-c",
            f"COPY {SCHEMA}.{ident(table)} ({', '.join(ident(c) for c in [*mine, EXTRA])}) "
            "FROM STDIN",
        ]
    )
    ranges = None
    if not key or any(k not in mapped for k in key):  # no key to compare by: every row
        out = shlex.join([*base, "-d", source, "-c", f"COPY ({select}) TO STDOUT"])
        line = f"{out} | {into}"
    else:  # only the key ranges whose sums differ, where the key allows (row_ranges)
        ranges = row_ranges.differing(pg, source, table, mapped, key)
        here = ranges.where("p") if ranges else "true"
        there = ranges.where(src, source=True) if ranges else "true"
        hashed = f"hashtextextended({row_text('p', mine)}, 0)"
        keys = shlex.join(
            [
                *base,
                "-d",
                pg.database.name,
                "-c",
                f"COPY (SELECT {row_text('p', key)}, {hashed} FROM public.{ident(table)} AS p "
                f"WHERE {here}) TO STDOUT",
            ]
        )
        differ = (
            f"{select} WHERE {there} AND NOT EXISTS (SELECT 1 FROM rollbook_restored r WHERE "
            f"r.k = {row_text(src, [mapped[k] for k in key])} "
            f"AND r.h = hashtextextended({row_text(src, names)}, 0))"
        )
        out = shlex.join(
            [
                *base,
                "-d",
                source,
                "-c",
                "CREATE TEMPORARY TABLE rollbook_restored (k text, h bigint)",
                "-c",
                "COPY rollbook_restored FROM STDIN",
                "-c",
                "ANALYZE rollbook_restored",
                "-c",
                f"COPY ({differ}) TO STDOUT",
            ]
        )
        line = f"{keys} | {out} | {into}"
    pg.host.run(
        ["bash", "-c", f"set -o pipefail; {line}"],
        mutating=True,
        env=pg.host.pgpass(pg.password),
        timeout=site.env.timeouts.restore,
    )
    return ranges


def _recover_sql(
    pg: PostgresClient, table: str, common: list[str], key: list[str], reason: str
) -> str:
    """One statement list in one transaction: mark the dropped rows, insert them, classify what
    was not put back, move the sequences."""
    salvage, public = f"{SCHEMA}.{ident(table)}", f"public.{ident(table)}"

    def match(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{ident(c)} = {b}.{ident(c)}" for c in key)

    parents = (
        " AND ".join(
            "(" + " OR ".join(f"x.{ident(c)} IS NULL" for c in cols) + " OR EXISTS (SELECT 1 FROM "
            f"public.{ident(parent)} q WHERE "
            + " AND ".join(f"q.{ident(r)} = x.{ident(c)}" for c, r in zip(cols, refs, strict=True))
            + "))"
            for parent, cols, refs in foreign_keys(pg, table)
            if all(c in common for c in cols)
        )
        or "true"
    )
    listed = ", ".join(ident(c) for c in common)
    status = f"UPDATE {salvage} x SET {STATUS}"
    if not key:
        return f"{status} = {literal('not recovered: ' + reason)}"
    steps = [
        f"{status} = 'dropped' WHERE NOT EXISTS (SELECT 1 FROM {public} p WHERE {match('p', 'x')})"
    ]
    if not reason:
        steps += [
            f"WITH ins AS (INSERT INTO {public} ({listed}) SELECT {listed} FROM {salvage} x "
            f"WHERE x.{STATUS} = 'dropped' AND {parents} ON CONFLICT DO NOTHING RETURNING "
            f"{', '.join(ident(c) for c in key)}) {status} = 'recovered' FROM ins "
            f"WHERE {match('x', 'ins')}",
            f"{status} = 'not recovered: parent row missing' WHERE x.{STATUS} = 'dropped' "
            f"AND NOT ({parents})",
        ]
    steps += [
        f"{status} = {literal('not recovered: ' + (reason or 'a unique value is taken'))} "
        f"WHERE x.{STATUS} = 'dropped'",
        # by the rows' text (json, xml, point have no equality operator)
        f"{status} = 'conflict' FROM {public} p WHERE x.{STATUS} IS NULL AND {match('p', 'x')} "
        f"AND ROW({', '.join('p.' + ident(c) for c in common)})::text IS DISTINCT FROM "
        f"ROW({', '.join('x.' + ident(c) for c in common)})::text",
        *_sequences(pg, table),
    ]
    return "; ".join(steps)


def _sequences(pg: PostgresClient, table: str) -> list[str]:
    """setval past the largest key of each serial column of the table (never backwards)."""
    sql = (
        f"SELECT attname FROM pg_attribute WHERE attrelid = {_reg(table)} AND attnum > 0 "
        f"AND NOT attisdropped AND pg_get_serial_sequence({literal('public.' + ident(table))}, "
        "attname) IS NOT NULL"
    )
    name = literal("public." + ident(table))
    serial = "pg_get_serial_sequence({name}, {column})"
    return [
        f"SELECT setval({serial.format(name=name, column=literal(c))}, GREATEST(max({ident(c)}), "
        f"coalesce(pg_sequence_last_value({serial.format(name=name, column=literal(c))}), 0))) "
        f"FROM public.{ident(table)} HAVING max({ident(c)}) IS NOT NULL"
        for c in psql(pg, sql).splitlines()
    ]


def _keep_salvage(incident: Incident, site: Site, pg: PostgresClient) -> str:
    """The salvage schema's rows, dumped as SQL into the incident folder (0600)."""
    dumped = pg.run(
        "pg_dump",
        "-d",
        pg.database.name,
        "-n",
        SCHEMA,
        "--no-owner",
        mutating=True,
        timeout=site.env.timeouts.dump,
    ).stdout
    path = incident.folder / SALVAGE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(dumped)
    return str(path)
