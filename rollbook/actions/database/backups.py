"""Backups on the db host: listing, choice, integrity and identity checks (Paso 1.3)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from rollbook.core.config import DatabaseConfig
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host

DJANGO_MIGRATIONS = "django_migrations"
MIGRATION_ROWS = f"SELECT app || '.' || name FROM {DJANGO_MIGRATIONS}"  # app.name per row
PLAIN_HEADER = "-- PostgreSQL database dump"
PLAIN_TRAILER = "-- PostgreSQL database dump complete"
CUSTOM_MAGIC = "PGDMP"


class BackupRefused(StepFailed):
    """A backup that cannot be used; `problem` says why, the message also what to do."""

    def __init__(self, problem: str) -> None:
        super().__init__(escalation(problem))
        self.problem = problem


@dataclass(frozen=True)
class BackupFile:
    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Backup:
    path: str
    size: int
    mtime: float
    age: float  # seconds, measured with the db host's clock
    format: str  # plain | custom
    sha256: str
    over_age: str | None = None  # why a named backup older than max_backup_age was accepted


def list_backups(host: Host, db: DatabaseConfig, pattern: str | None = None) -> list[BackupFile]:
    """Files of the backups folder matching the pattern, newest first (ls -lt)."""
    result = host.run(
        [
            "find",
            db.backups,
            "-maxdepth",
            "1",
            "-type",
            "f",
            "-name",
            pattern or db.backup_pattern,
            "-printf",
            r"%T@\t%s\t%p\n",
        ],
        mutating=False,
        check=False,
    )
    files = []
    for line in result.stdout.splitlines():
        mtime, size, path = line.split("\t", 2)
        files.append(BackupFile(path, int(size), float(mtime)))
    return sorted(files, key=lambda f: f.mtime, reverse=True)


def host_time(host: Host) -> float:
    return float(host.run(["date", "+%s.%N"], mutating=False).stdout.strip())


def resolve_backup_path(db: DatabaseConfig, given: str) -> str:
    return given if posixpath.isabs(given) else posixpath.join(db.backups, given)


def candidates(
    host: Host, db: DatabaseConfig, given: str | None, deployed_at: float
) -> list[BackupFile]:
    """[--backup], or the matching backups taken before the defective release was deployed,
    newest first (§10.1: when one cannot be used, the next older one)."""
    if given is not None:
        path = resolve_backup_path(db, given)
        folder, name = posixpath.split(path)
        found = [f for f in list_backups(host, db, name) if posixpath.dirname(f.path) == folder]
        if not found:
            raise BackupRefused(f"the backup {path} does not exist on {host.spec}")
        return found[:1]
    older = [f for f in list_backups(host, db) if f.mtime < deployed_at]
    if not older:
        pattern = posixpath.join(db.backups, db.backup_pattern)
        raise BackupRefused(f"no backup {pattern} older than the deployed release on {host.spec}")
    return older


def choose_backup(
    host: Host, db: DatabaseConfig, given: str | None, deployed_at: float
) -> BackupFile:
    """--backup, or the newest matching backup taken before the defective release was deployed."""
    return candidates(host, db, given, deployed_at)[0]


def check_backup(
    host: Host, db: DatabaseConfig, file: BackupFile, *, named: bool = False
) -> Backup:
    """Non-empty, younger than the maximum age, and complete (pg_restore --list / dump trailer).

    `named`: the operator chose it (--backup); older than the limit, it is accepted with the
    reason recorded (§9.2: the oldest backup known to be stable)."""
    if file.size == 0:
        raise BackupRefused(f"the backup {file.path} is empty (0 bytes)")
    age = host_time(host) - file.mtime
    limit = db.max_backup_age
    over_age = None
    if age > limit:
        too_old = (
            f"the backup {file.path} is {age / 3600:.1f} h old, over the environment's "
            f"limit of {limit / 3600:.1f} h"
        )
        if not named:
            raise BackupRefused(too_old)
        over_age = f"{too_old}: accepted because --backup names it (§9.2)"
    fmt = backup_format(host, file.path)
    if fmt == "custom":
        listed = host.run(
            ["pg_restore", "--list", "-f", "/dev/null", file.path], mutating=False, check=False
        )
        if not listed.ok:
            raise BackupRefused(f"the backup {file.path} fails `pg_restore --list`")
    else:
        head = _read(host, ["head", "-n", "40", file.path])
        tail = _read(host, ["tail", "-c", "512", file.path])
        if PLAIN_HEADER not in head:
            raise BackupRefused(f"the backup {file.path} is not a pg_dump file")
        if PLAIN_TRAILER not in tail:
            raise BackupRefused(
                f"the backup {file.path} is truncated: pg_dump's completion line is missing"
            )
    _check_marker(host, db.marker_table, file.path, fmt)
    digest = _read(host, ["sha256sum", file.path]).split()[0]
    return Backup(file.path, file.size, file.mtime, age, fmt, digest, over_age)


def _check_marker(host: Host, marker: str | None, path: str, fmt: str) -> None:
    """A backup of this database holds its marker table (e.g. django_migrations)."""
    if not marker:
        return
    if fmt == "custom":
        listing = _read(host, ["pg_restore", "--list", path])
        found = f"TABLE public {marker} " in listing
    else:
        needle = f"CREATE TABLE public.{marker} ("
        found = host.run(["grep", "-q", "-F", needle, path], mutating=False, check=False).ok
    if not found:
        raise BackupRefused(
            f"the backup {path} has no table {marker}: it is not a backup of this database"
        )


def backup_format(host: Host, path: str) -> str:
    """Recognised by content, not by name: custom format starts with PGDMP."""
    magic = _read(host, ["head", "-c", "5", path])
    return "custom" if magic == CUSTOM_MAGIC else "plain"


def applied_in_backup(host: Host, path: str, fmt: str) -> list[str] | None:
    """The migrations (app.name) the backup's django_migrations rows say were applied, read from
    its data (custom format: pg_restore of that table); None when it holds no such rows."""
    if fmt == "custom":
        argv = ["pg_restore", "--data-only", "-t", DJANGO_MIGRATIONS, "-f", "-", path]
    else:  # the table's COPY block, up to its end marker (sed stops reading there)
        argv = [
            "sed",
            "-n",
            rf"/^COPY public\.{DJANGO_MIGRATIONS} /,/^\\\.$/{{p;/^\\\.$/q;}}",
            path,
        ]
    return parse_copy(host.run(argv, mutating=False, check=False).stdout)


def parse_copy(text: str) -> list[str] | None:
    """app.name of each row of a django_migrations COPY block (pg_dump's text format)."""
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("COPY ")), None)
    if start is None:
        return None
    header = lines[start]
    columns = [
        c.strip().strip('"') for c in header[header.index("(") + 1 : header.index(")")].split(",")
    ]
    app, name = columns.index("app"), columns.index("name")
    rows = []
    for line in lines[start + 1 :]:
        if line == "\\.":
            break
        cells = line.split("\t")
        rows.append(f"{cells[app]}.{cells[name]}")
    return sorted(rows)


def identity_problem(
    applied: set[str] | list[str] | None, expected: set[str], apps: set[str] | None, source: str
) -> str | None:
    """Why a backup is not of this application at the target's migration state (`expected`, by
    `source`; only `apps` compared when given), or None."""
    if applied is None:
        return f"holds no {DJANGO_MIGRATIONS} rows: it is not a backup of this application"
    found = {m for m in applied if apps is None or m.split(".")[0] in apps}
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if not missing and not unexpected:
        return None
    differences = []
    if missing:
        listed = ", ".join(missing[:4])
        differences.append(f"lacks {len(missing)} migrations of {source} ({listed})")
    if unexpected:
        listed = ", ".join(unexpected[:4])
        differences.append(f"has {len(unexpected)} that {source} does not ({listed})")
    return (
        f"is not a backup of this application at the target release: its {DJANGO_MIGRATIONS} "
        + " and ".join(differences)
        + " — a backup of another database, or of another release"
    )


def _read(host: Host, argv: list[str]) -> str:
    return host.run(argv, mutating=False).stdout


def escalation(problem: str) -> str:
    return (
        f"CRITICO: no valid backup — {problem}. Escalate to the Tech Lead (PROCED-BACK-003 "
        "Paso 1.3: 'Si no hay backup valido, escalar a Tech Lead'). Nothing was changed."
    )
