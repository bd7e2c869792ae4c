"""Etapa 4 — the database on the db host: safety backup, connections, restore, migrations.

Every statement runs through psql/pg_dump/dropdb/createdb on the db host, as the procedure does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rollbook.actions import backups
from rollbook.core.errors import StepFailed
from rollbook.core.run import Run


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def db_spec(run: Run) -> str:
    return run.hosts("db")[0]


def psql(run: Run, sql: str, *, database: str | None = None, mutating: bool = False) -> str:
    db = run.env.database
    argv = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", *run.db_args(), "-d",
            database or db.name, "-c", sql]  # fmt: skip
    return run.executor.run(db_spec(run), argv, mutating=mutating, env=run.db_env()).stdout


def tables(run: Run, database: str | None = None) -> list[str]:
    sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    return psql(run, sql, database=database).split()


def fingerprint_sql(names: list[str]) -> str:
    """One query: per table, its row count and an order-independent checksum of its rows (the
    sum of a 64-bit hash of each row: one pass, no sort, whatever the table's size)."""
    parts = [
        f"SELECT {literal(t)}, count(*), "
        f"coalesce(sum(hashtextextended(x::text, 0)::numeric), 0)::text FROM public.{ident(t)} AS x"
        for t in names
    ]
    return " UNION ALL ".join(parts) + " ORDER BY 1"


def fingerprints(run: Run) -> dict[str, dict[str, object]]:
    names = tables(run)
    if not names:
        return {}
    out = psql(run, fingerprint_sql(names))
    return {
        t: {"rows": int(n), "checksum": h}
        for t, n, h in (line.split("|") for line in out.splitlines())
    }


def row_keys(run: Run, database: str | None = None) -> dict[str, set[int]]:
    """Per table, a 64-bit hash of each row's primary key (of the whole row where there is none)."""
    pk_sql = (
        "SELECT c.relname, string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indisprimary GROUP BY c.relname"
    )
    pks = dict(line.split("|", 1) for line in psql(run, pk_sql, database=database).splitlines())
    keys: dict[str, set[int]] = {}
    for table in tables(run, database):
        columns = ", ".join(f"x.{c}" for c in pks[table].split(",")) if table in pks else "x.*"
        sql = f"SELECT hashtextextended(ROW({columns})::text, 0) FROM public.{ident(table)} AS x"
        out = psql(run, sql, database=database)
        keys[table] = {int(k) for k in out.split()}
    return keys


def safety_backup(run: Run) -> dict[str, object]:
    """Paso 4.1: pg_dump of the current state to pre_rollback_YYYYMMDD_HHMMSS.sql, checked."""
    db = run.env.database
    path = f"{db.backups}/pre_rollback_{datetime.now(UTC):%Y%m%d_%H%M%S}.sql"
    before = fingerprints(run)
    run.keys_before = row_keys(run)
    checked = checked_dump(run, db.name, path)
    return run.record("pre_rollback_backup", path=path, **checked, tables=before)


def checked_dump(run: Run, name: str, path: str) -> dict[str, object]:
    """pg_dump NAME to PATH, then its integrity check: size, sha256, format ({planned} in a
    dry-run)."""
    dump_to(run, name, path)
    if run.planning:
        return {"planned": True}
    spec = db_spec(run)
    listed = backups.BackupFile(path, *size_and_mtime(run, spec, path))
    checked = backups.check_backup(run, spec, listed)
    return {"size": checked.size, "sha256": checked.sha256, "format": checked.format}


def dump_to(run: Run, name: str, path: str) -> None:
    """pg_dump NAME to PATH on the db host, bounded by timeouts.dump. A dump that fails or hangs
    leaves no file that looks like a backup: it is moved to PATH.partial, and the error says so."""
    spec = db_spec(run)
    try:
        run.executor.run(
            spec, ["pg_dump", *run.db_args(), "-d", name, "-f", path], mutating=True,
            env=run.db_env(), timeout=run.env.timeouts.dump,
        )  # fmt: skip
    except StepFailed as exc:
        moved = run.executor.run(
            spec, ["sh", "-c", '[ ! -e "$1" ] || { mv -f "$1" "$1.partial" && echo moved; }',
                   "sh", path], mutating=True, check=False,
        )  # fmt: skip
        kept = "moved" in moved.stdout
        raise StepFailed(
            f"{exc}" + (f"; the incomplete file is kept as {path}.partial" if kept else "")
        ) from None


def size_and_mtime(run: Run, spec: str, path: str) -> tuple[int, float]:
    out = run.executor.run(spec, ["stat", "-c", "%s %Y", path], mutating=False).stdout.split()
    return int(out[0]), float(out[1])


def set_connections(run: Run, allowed: bool) -> None:
    db = run.env.database
    value = "true" if allowed else "false"
    psql(
        run, f"ALTER DATABASE {ident(db.name)} WITH ALLOW_CONNECTIONS {value}",
        database="postgres", mutating=True,
    )  # fmt: skip
    run.record("connections_allowed", allowed=allowed)


def others_clause(run: Run) -> str:
    """FROM/WHERE of the sessions on the app's database other than the query's own."""
    name = literal(run.env.database.name)
    return f"FROM pg_stat_activity WHERE datname = {name} AND pid <> pg_backend_pid()"


def other_connections(run: Run) -> int:
    return int(psql(run, f"SELECT count(*) {others_clause(run)}", database="postgres").strip() or 0)


def close_connections(run: Run) -> int:
    """Paso 4.2: keep new connections out, terminate the others; returns how many were ended."""
    set_connections(run, allowed=False)
    sql = f"SELECT count(pg_terminate_backend(pid)) {others_clause(run)}"
    try:
        ended = int(psql(run, sql, database="postgres", mutating=True).strip() or 0)
    except StepFailed as exc:
        raise StepFailed(
            f"{exc} — sessions connected now: {sessions(run) or 'none'}; the role "
            f"{run.env.database.user} may not end some of them (a superuser's): ask the DBA to "
            "end them (SELECT pg_terminate_backend(pid)), then run again"
        ) from None
    run.record("connections_terminated", count=ended)
    return ended


def sessions(run: Run) -> str:
    """The other sessions on the database, as `pid user (application)`, for a message."""
    sql = "SELECT string_agg(format('%s %s (%s)', pid, usename, application_name), ', ') " + (
        others_clause(run)
    )
    return psql(run, sql, database="postgres").strip()


def restore_database(run: Run, path: str) -> None:
    """Paso 4.3: dropdb, createdb, restore (psql for plain SQL, pg_restore -j for custom format)."""
    db = run.env.database
    run.record("database_dropped", name=db.name, restoring=path)
    run.executor.run(
        db_spec(run), ["dropdb", "--force", *run.db_args(), db.name], mutating=True,
        env=run.db_env(),
    )  # fmt: skip
    fmt, jobs = restore_into(run, db.name, path)
    run.record("database_restored", name=db.name, source=path, format=fmt, jobs=jobs)


def restore_into(run: Run, name: str, path: str, *, declared: bool = False) -> tuple[str, int]:
    """createdb NAME and restore PATH into it; returns the backup's format and the jobs used.
    `declared`: a scratch database of Paso 1.3's trial restore (see executor.run)."""
    spec, env = db_spec(run), run.db_env()
    fmt = backups.backup_format(run, spec, path)
    run.executor.run(
        spec, ["createdb", *run.db_args(), name], mutating=True, env=env, declared=declared
    )
    jobs = 1
    if fmt == "custom":
        jobs = run.env.database.restore_jobs or host_cores(run, spec)
        argv = ["pg_restore", "--exit-on-error", "--no-owner", "-j", str(jobs), *run.db_args(),
                "-d", name, path]  # fmt: skip
    else:
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                *run.db_args(), "-d", name, "-f", path]  # fmt: skip
    run.executor.run(
        spec, argv, mutating=True, env=env, timeout=run.env.timeouts.restore, declared=declared
    )
    return fmt, jobs


def host_cores(run: Run, spec: str) -> int:
    """The db host's cores (nproc): pg_restore's default parallelism."""
    out = run.executor.run(spec, ["nproc"], mutating=False, check=False).stdout.strip()
    return int(out) if out.isdigit() else 1


def migrations_count(run: Run, database: str | None = None) -> int:
    return int(psql(run, "SELECT COUNT(*) FROM django_migrations", database=database).strip())


def pending_migrations(run: Run) -> tuple[list[str], str]:
    """Paso 4.4: showmigrations; the lines still marked [ ]."""
    spec = run.hosts("app")[0]
    argv = [f"{run.env.app.venv}/bin/python", run.env.app.manage, "showmigrations"]
    out = run.executor.run(
        spec, argv, mutating=False, cwd=run.env.app.path, env=run.env.app.env
    ).stdout
    return [line.strip() for line in out.splitlines() if "[ ]" in line], out


def data_loss(run: Run) -> dict[str, int] | None:
    """Rows of the pre-rollback state (by primary key) absent after the restore, per table.

    None when Paso 4.1 ran in an interrupted incident this run resumes: its row keys are gone.
    """
    before = run.keys_before
    if before is None:
        run.say("data loss not counted: Paso 4.1 ran in the resumed incident")
        return None
    return lost_rows(before, row_keys(run))


def lost_rows(before: dict[str, set[int]], after: dict[str, set[int]]) -> dict[str, int]:
    """Per table, the keys of `before` that `after` lacks."""
    return {table: len(keys - after.get(table, set())) for table, keys in before.items()}


def check_recorded_migrations(run: Run) -> str:
    """Paso 4.4 against the ledger: the restored database applies what the target ran with."""
    recorded = run.fact("target").get("migrations")
    if not recorded:
        return run.record("migrations_vs_ledger", result="no ledger record for the target")[
            "result"
        ]
    # the table itself: showmigrations hides applied migrations the deployed code does not know
    found = sorted(psql(run, "SELECT app || '.' || name FROM django_migrations").split())
    if found != sorted(recorded):
        missing = [m for m in recorded if m not in found]
        unexpected = [m for m in found if m not in recorded]
        raise StepFailed(
            f"the restored database's migrations differ from those the target ran with (ledger): "
            f"missing {missing}, unexpected {unexpected} — the backup is not of that release"
        )
    return run.record("migrations_vs_ledger", result=f"as recorded ({len(found)})")["result"]
