"""The database, one package: here (Etapa 4 on the db host) the safety backup, the
connections, the restore and the migrations' rows, through psql/pg_dump/dropdb/createdb on the
db host as the procedure does; beside it, by what each is for:

- which backup: backups (the folder's dumps, their identity), trial_restore (Paso 1.3's restore
  into a scratch database);
- which way back: database_path (restore, reverse the migrations, or restore then recover, by
  what each loses), migration_plan, migration_history, package_migrations (what reversing
  needs), restore_strategy (Etapa 4's Pasos by the way chosen), swap (a shadow database renamed
  in), app_database (the app's own settings point at this database);
- the rows: changed_since_backup, changed_rows, row_ranges (what was written since the backup),
  row_recovery (Paso 4.5 puts them back), row_kinds, row_labels (what each lost row is, for
  people), loss_statement (the list of what could not come back).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rollbook.actions.database import backups
from rollbook.core.config import Timeouts
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.operations import ConnectionsRefused, DatabaseDropped, SafetyDumpStarted
from rollbook.core.progress import Progress
from rollbook.core.records import Keys, Records
from rollbook.core.resources import PostgresClient, Venv
from rollbook.core.site import Site
from rollbook.core.state import SafetyDump, Target, TrialRestore


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def psql(
    pg: PostgresClient, sql: str, *, database: str | None = None, mutating: bool = False
) -> str:
    """One statement's rows (unaligned, tuples only) in `database` (default the app's)."""
    return pg.run(
        "psql",
        "-d",
        database or pg.database.name,
        "-c",
        sql,
        mutating=mutating,
        before=["-X", "-At", "-v", "ON_ERROR_STOP=1"],
    ).stdout


def owner(pg: PostgresClient, name: str) -> str:
    """The role that owns database `name` ("" when there is no such database)."""
    sql = f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {literal(name)}"
    return psql(pg, sql, database="postgres").strip()


def tables(pg: PostgresClient, database: str | None = None) -> list[str]:
    sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    return psql(pg, sql, database=database).split()


def fingerprint_sql(names: list[str]) -> str:
    """One query: per table, its row count and an order-independent checksum of its rows (the
    sum of a 64-bit hash of each row: one pass, no sort, whatever the table's size)."""
    parts = [
        f"SELECT {literal(t)}, count(*), "
        f"coalesce(sum(hashtextextended(x::text, 0)::numeric), 0)::text FROM public.{ident(t)} AS x"
        for t in names
    ]
    return " UNION ALL ".join(parts) + " ORDER BY 1"


TABLES_PER_QUERY = 200  # a query's text stays far below a command argument's 128 KiB


def blocks(names: list[str]) -> list[list[str]]:
    """`names` in blocks of TABLES_PER_QUERY: one query (one psql connection) each."""
    return [names[i : i + TABLES_PER_QUERY] for i in range(0, len(names), TABLES_PER_QUERY)]


def fingerprints(pg: PostgresClient, database: str | None = None) -> dict[str, dict[str, object]]:
    lines = []
    for block in blocks(tables(pg, database)):
        lines += psql(pg, fingerprint_sql(block), database=database).splitlines()
    return {t: {"rows": int(n), "checksum": h} for t, n, h in (line.split("|") for line in lines)}


PRIMARY_KEYS = (  # per public table: its primary key's columns, as a JSON list
    "SELECT c.relname, json_agg(a.attname ORDER BY a.attnum) "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
    "WHERE i.indisprimary GROUP BY c.relname"
)


def primary_keys(pg: PostgresClient, database: str | None = None) -> dict[str, list[str]]:
    """Per table that has one, the columns of its primary key."""
    out = psql(pg, PRIMARY_KEYS, database=database)
    return {t: json.loads(cols) for t, cols in (line.split("|", 1) for line in out.splitlines())}


UNKEYED = "#"  # a row of a table without a primary key: "#" and a 64-bit hash of the whole row


def analyze(pg: PostgresClient, name: str) -> None:
    """ANALYZE every table of database `name`, as PostgreSQL's documentation advises after a
    restore (a restore leaves none of the planner's statistics, until autovacuum comes): its
    first queries, and Paso 4.5's passes over it, planned on what it holds."""
    for block in blocks(tables(pg, name)):
        psql(
            pg,
            "ANALYZE " + ", ".join(f"public.{ident(t)}" for t in block),
            database=name,
            mutating=True,
        )


def row_keys(
    pg: PostgresClient,
    database: str | None = None,
    only: list[str] | None = None,
    where: dict[str, str] | None = None,
) -> Keys:
    """Per table (those of `only` the database has, else all), each row's primary key as the
    record names it: an integer key as an int (as small as a hash), any other key as its JSON
    text (one line whatever it holds); where the table has none, UNKEYED and a 64-bit hash of
    the whole row. `where`: per table, SQL on its row `x` choosing the rows read. One query per
    block of tables, each row tagged with its table's place in the block."""
    pks = primary_keys(pg, database)
    keys: Keys = {}
    found = tables(pg, database)
    chosen = where or {}
    for block in blocks(found if only is None else [t for t in found if t in only]):
        parts = []
        for place, table in enumerate(block):
            parts.append(
                f"SELECT {place}, {key_text(pks.get(table))} FROM public.{ident(table)} AS x"
                + (f" WHERE {chosen[table]}" if table in chosen else "")
            )
            keys[table] = set()
        for line in psql(pg, " UNION ALL ".join(parts), database=database).splitlines():
            place, _, key = line.partition("|")
            keys[block[int(place)]].add(int(key) if key.lstrip("-").isdigit() else key)
    return keys


def having_keys(columns: list[str], keys: list[str]) -> str:
    """SQL: the row of `x` has one of `keys` (as key_text names them). A key of one column is
    matched by its value, which the key's index finds (an integer key's text is its digits,
    whatever its size); a key of several by its text."""
    if len(columns) != 1:
        return " OR ".join(f"{key_text(columns)} = {literal(k)}" for k in keys)
    values = (k if k.lstrip("-").isdigit() else str(json.loads(k)) for k in keys)
    return f"x.{ident(columns[0])} IN ({', '.join(literal(v) for v in values)})"


def key_text(columns: list[str] | None) -> str:
    """The SQL of a row's key as text (row_keys)."""
    if not columns:
        return f"{literal(UNKEYED)} || hashtextextended(x::text, 0)::text"
    if len(columns) == 1:
        return f"to_json(x.{ident(columns[0])})::text"
    return f"json_build_array({', '.join(f'x.{ident(c)}' for c in columns)})::text"


def safety_backup(site: Site, records: Records) -> dict[str, object]:
    """Paso 4.1: pg_dump of the current state to pre_rollback_YYYYMMDD_HHMMSS.sql, checked."""
    pg = site.postgres()
    before = fingerprints(pg)
    records.keys_before = row_keys(pg)
    path, checked = _dump_state(site, records)
    return records.keep(SafetyDump(path, **checked, tables=before)).value()


def early_safety_backup(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Paso 4.0 (recreate, or reversing the migrations): Paso 4.1's dump taken while the app
    still serves, where the cluster is not being written to: the transaction horizon read before
    the fingerprints and again after them and after the dump. Kept with that horizon, Paso 3.0
    or 4.1 uses it as the current state's backup if the horizon has not moved by then (every
    write takes a transaction id; pg_dump's read-only snapshot takes none). {} where the cluster
    is being written to: the dump stays in the downtime."""
    pg = site.postgres()
    horizon = write_horizon(pg)
    before = fingerprints(pg) if horizon else {}
    keys = row_keys(pg) if horizon else {}
    if horizon is None or write_horizon(pg) != horizon:
        incident.say(
            "Paso 4.0: the database cluster is being written to: Paso 4.1's safety "
            "dump is taken after the stop"
        )
        return {}
    records.keys_before = keys
    path, checked = _dump_state(site, records)
    if write_horizon(pg) != horizon:
        incident.say(
            "Paso 4.0: a transaction wrote during the dump: it is taken again after the stop"
        )
        horizon = None
    dump = SafetyDump(path, **checked, tables=before, horizon=horizon, current=False)
    return records.keep(dump).value()


def _dump_state(site: Site, records: Records) -> tuple[str, dict[str, object]]:
    """Paso 4.1's dump (Paso 4.0's when taken ahead): its path, and what checked_dump found."""
    db = site.env.database
    path = f"{db.backups}/pre_rollback_{datetime.now(UTC):%Y%m%d_%H%M%S}.sql"
    with records.operation(SafetyDumpStarted(path)):  # §9 finds what a killed dump left
        expected = trial_prediction(records, "paso_4_1")
        return path, checked_dump(site.postgres(), db.name, path, site.env.timeouts, expected)


def write_horizon(pg: PostgresClient) -> str | None:
    """The cluster's next transaction id (txid_current_snapshot's xmax) where no transaction
    holding one is in flight, else None. While it has not moved, nothing has been written (a
    bare nextval between sequence logs aside): every write takes an id."""
    xmin, xmax, in_flight = psql(pg, "SELECT txid_current_snapshot()::text").strip().split(":")
    return xmax if not in_flight and xmin == xmax else None


def still_current(site: Site, dump: SafetyDump) -> bool:
    """Paso 4.0's dump is the database's current state: no transaction since its horizon."""
    return dump.horizon is not None and write_horizon(site.postgres()) == dump.horizon


def trial_prediction(records: Records, paso: str) -> float | None:
    """The seconds Paso 1.3's trial restore predicted for `paso` ('paso_4_3' …); None unmeasured."""
    trial = records.known(TrialRestore)
    predicted = trial.predicted if trial else {}
    return float(predicted[paso]) if paso in predicted else None


def checked_dump(
    pg: PostgresClient, name: str, path: str, timeouts: Timeouts, expected: float | None = None
) -> dict[str, object]:
    """pg_dump NAME to PATH, then its integrity check: size, sha256, format ({planned} in a
    dry-run)."""
    dump_to(pg, name, path, timeouts, expected)
    if pg.host.planning:
        return {"planned": True}
    listed = backups.BackupFile(path, *size_and_mtime(pg.host, path))
    checked = backups.check_backup(pg.host, pg.database, listed)
    return {"size": checked.size, "sha256": checked.sha256, "format": checked.format}


def dump_to(
    pg: PostgresClient, name: str, path: str, timeouts: Timeouts, expected: float | None = None
) -> None:
    """pg_dump NAME to PATH on the db host, bounded by timeouts.dump, its progress said. It writes
    PATH.partial, created 0600 like the nightlies, renamed to PATH once pg_dump has finished: a
    dump that fails, hangs, or whose runner is killed never leaves a file that looks like a
    backup; the error says where the incomplete one is."""
    partial = f"{path}.partial"
    pg.host.run(["install", "-m", "600", "/dev/null", partial], mutating=True)
    try:
        with Progress(
            pg.host,
            f"pg_dump {name}",
            partial,
            None,
            stall=timeouts.stall,
            expected=expected,
            bound=True,
        ):
            pg.run("pg_dump", "-d", name, "-f", partial, mutating=True, timeout=timeouts.dump)
    except StepFailed as exc:
        raise StepFailed(f"{exc}; the incomplete file is kept as {partial}") from None
    pg.host.run(["mv", "-f", partial, path], mutating=True)


def unfinished_dump(host: Host, path: str) -> str:
    """What a killed run's Paso 4.1 left of its dump to PATH (only a finished dump is renamed to
    PATH: a file there is complete)."""
    if host.run(["test", "-e", path], mutating=False, check=False).ok:
        return f"Paso 4.1's dump {path} finished before the run died (complete; not recorded)"
    found = host.run(["stat", "-c", "%s", f"{path}.partial"], mutating=False, check=False)
    if not found.ok:
        return f"Paso 4.1's dump did not finish and left no {path}.partial"
    return (
        f"Paso 4.1's dump did not finish: {path}.partial ({found.stdout.strip()} bytes) is "
        "incomplete, not a backup; kept for inspection"
    )


def size_and_mtime(host: Host, path: str) -> tuple[int, float]:
    out = host.run(["stat", "-c", "%s %Y", path], mutating=False).stdout.split()
    return int(out[0]), float(out[1])


def set_connections(site: Site, records: Records, allowed: bool) -> None:
    db = site.env.database
    value = "true" if allowed else "false"
    sql = f"ALTER DATABASE {ident(db.name)} WITH ALLOW_CONNECTIONS {value}"
    if allowed:
        psql(site.postgres(), sql, database="postgres", mutating=True)
        return
    with records.operation(ConnectionsRefused(db.name)):  # §9 allows them again
        psql(site.postgres(), sql, database="postgres", mutating=True)


def others_clause(name: str) -> str:
    """FROM/WHERE of the sessions on database `name` other than the query's own, not the
    server's own processes: an autovacuum worker (no user: usesysid NULL) is ended by PostgreSQL
    itself, and a role that may not end it would fail Paso 4.2 whenever autovacuum happened to
    visit the database. (backend_type cannot tell: it is hidden from a role for other users'
    sessions, a superuser's included.)"""
    return (
        f"FROM pg_stat_activity WHERE datname = {literal(name)} AND pid <> pg_backend_pid() "
        "AND usesysid IS NOT NULL"
    )


def other_connections(pg: PostgresClient) -> int:
    """Sessions on the app's database other than the query's own."""
    sql = f"SELECT count(*) {others_clause(pg.database.name)}"
    return int(psql(pg, sql, database="postgres").strip() or 0)


def close_connections(incident: Incident, site: Site, records: Records) -> int:
    """Paso 4.2: keep new connections out, terminate the others; returns how many were ended."""
    set_connections(site, records, allowed=False)
    pg = site.postgres()
    sql = f"SELECT count(pg_terminate_backend(pid)) {others_clause(pg.database.name)}"
    try:
        ended = int(psql(pg, sql, database="postgres", mutating=True).strip() or 0)
    except StepFailed as exc:
        raise StepFailed(
            f"{exc} — sessions connected now: {sessions(pg) or 'none'}; the role "
            f"{site.env.database.user} may not end some of them (a superuser's): ask the DBA to "
            "end them (SELECT pg_terminate_backend(pid)), then run again"
        ) from None
    incident.note("connections_terminated", count=ended)
    return ended


def sessions(pg: PostgresClient, name: str | None = None) -> str:
    """The other sessions on database `name` (the app's by default), as `pid user (application)`,
    for a message."""
    sql = "SELECT string_agg(format('%s %s (%s)', pid, usename, application_name), ', ') " + (
        others_clause(name or pg.database.name)
    )
    return psql(pg, sql, database="postgres").strip()


def restore_database(
    incident: Incident, site: Site, records: Records, path: str, expected: float | None = None
) -> None:
    """Paso 4.3 (and §9): dropdb, createdb, restore (psql for plain SQL, pg_restore -j for custom
    format); `expected` the seconds Paso 1.3's trial restore predicted for it."""
    db, pg = site.env.database, site.postgres()
    with records.operation(DatabaseDropped(db.name, path)):  # §9 restores the safety dump
        drop_database(pg, db.name)
        fmt, jobs = restore_into(pg, db.name, path, site.env.timeouts, expected=expected)
    incident.note("database_restored", name=db.name, source=path, format=fmt, jobs=jobs)


# What PostgreSQL 15 answers a role that is not a superuser when DROP DATABASE … WITH (FORCE)
# finds an autovacuum worker in the database: the worker has no role to be a member of, so the
# whole drop is refused (seen in §9, right after Paso 4.3's restore had woken autovacuum).
FORCE_REFUSED = "pg_signal_backend"
DROP_ROUNDS = 3


def drop_database(pg: PostgresClient, name: str) -> None:
    """dropdb --force --if-exists NAME. Refused for an autovacuum worker, a plain dropdb follows:
    PostgreSQL ends autovacuum workers itself for it (waiting up to 5 s) but no session, so the
    forced one is tried again after it, DROP_ROUNDS times; then the sessions still there are
    named (another role's: only the DBA may end them)."""
    for _ in range(DROP_ROUNDS):
        forced = pg.run(
            "dropdb", name, before=["--force", "--if-exists"], mutating=True, check=False
        )
        if forced.ok:
            return
        if FORCE_REFUSED not in forced.stderr:
            raise StepFailed(pg.host.describe_failure(forced))
        plain = pg.run("dropdb", name, before=["--if-exists"], mutating=True, check=False)
        if plain.ok:
            return
    left = sessions(pg, name)
    raise StepFailed(
        f"{pg.host.describe_failure(forced)} — sessions on {name} now: {left or 'none'}; "
        f"the role {pg.database.user} may not end another role's session: ask the DBA to end "
        "them (SELECT pg_terminate_backend(pid)), then run again"
    )


def restore_into(
    pg: PostgresClient,
    name: str,
    path: str,
    timeouts: Timeouts,
    *,
    declared: bool = False,
    expected: float | None = None,
) -> tuple[str, int]:
    """createdb NAME and restore PATH into it, bounded by timeouts.restore, its progress said;
    returns the backup's format and the jobs used. `declared`: a scratch database of Paso 1.3's
    trial restore (see executor.run)."""
    fmt = backups.backup_format(pg.host, path)
    pg.run("createdb", name, mutating=True, declared=declared)
    jobs = 1
    if fmt == "custom":
        jobs = pg.database.restore_jobs or host_cores(pg.host)
        tool, options = "pg_restore", ["--exit-on-error", "--no-owner", "-j", str(jobs)]
        args = ["-d", name, path]
    else:
        tool, options = "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
        args = ["-d", name, "-f", path]
    with Progress.reading(pg.host, f"{tool} {name}", path, stall=timeouts.stall, expected=expected):
        pg.run(
            tool, *args, before=options, mutating=True, timeout=timeouts.restore, declared=declared
        )
    return fmt, jobs


def host_cores(host: Host) -> int:
    """The db host's cores (nproc): pg_restore's default parallelism."""
    out = host.run(["nproc"], mutating=False, check=False).stdout.strip()
    return int(out) if out.isdigit() else 1


def migrations_count(pg: PostgresClient, database: str | None = None) -> int:
    return int(psql(pg, "SELECT COUNT(*) FROM django_migrations", database=database).strip())


def pending_migrations(site: Site) -> tuple[list[str], str]:
    """Paso 4.4: showmigrations; the lines still marked [ ]."""
    out = Venv(site.first_host("app"), site.env.app).manage("showmigrations", mutating=False).stdout
    return [line.strip() for line in out.splitlines() if "[ ]" in line], out


def data_loss(
    incident: Incident, site: Site, records: Records
) -> dict[str, list[int | str]] | None:
    """Rows of the pre-rollback state absent after the restore: their keys, per table.

    None when Paso 4.1 ran in an interrupted incident this run resumes: its row keys are gone.
    """
    before = records.keys_before
    if before is None:
        incident.say("data loss not counted: Paso 4.1 ran in the resumed incident")
        return None
    return lost_keys(before, row_keys(site.postgres()))


BOOKKEEPING = "django_migrations"  # the schema's own record: its rows follow the migrations


def lost_keys(before: Keys, after: Keys) -> dict[str, list[int | str]]:
    """Per table, the keys of `before` that `after` lacks, sorted (integers first). Not
    django_migrations: its rows are the schema's bookkeeping, gone with the migrations the
    rollback undoes (Paso 4.4 checks them)."""
    return {
        table: sorted(keys - after.get(table, set()), key=lambda k: (isinstance(k, str), k))
        for table, keys in before.items()
        if table != BOOKKEEPING
    }


def migration_rows(pg: PostgresClient) -> list[str]:
    """The database's django_migrations rows as `app.name`, sorted: the table itself, since
    showmigrations hides applied migrations the deployed code does not know."""
    return sorted(psql(pg, backups.MIGRATION_ROWS).split())


def ledger_migration_mismatch(incident: Incident, records: Records, found: list[str]) -> str:
    """Paso 4.4 against the ledger: the restored database applies what the target ran with (its
    database's django_migrations rows; an older record holds only its plan). "" when it does."""
    target = records.need(Target)
    recorded = target.migration_rows or target.migrations
    if not recorded:
        incident.note("migrations_vs_ledger", result="no ledger record for the target")
        return ""
    if found != sorted(recorded):
        missing = [m for m in recorded if m not in found]
        unexpected = [m for m in found if m not in recorded]
        incident.note("migrations_vs_ledger", result=f"missing {missing}, unexpected {unexpected}")
        return (
            f"the restored database's migrations differ from those the target ran with (ledger): "
            f"missing {missing}, unexpected {unexpected} — the backup is not of that release"
        )
    incident.note("migrations_vs_ledger", result=f"as recorded ({len(found)})")
    return ""
