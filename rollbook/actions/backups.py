"""Backups on the db host: listing, choice and integrity check (Paso 1.3)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from rollbook.core.errors import StepFailed
from rollbook.core.run import Run

PLAIN_HEADER = "-- PostgreSQL database dump"
PLAIN_TRAILER = "-- PostgreSQL database dump complete"
CUSTOM_MAGIC = "PGDMP"


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


def list_backups(run: Run, spec: str, pattern: str | None = None) -> list[BackupFile]:
    """Files of the backups folder matching the pattern, newest first (ls -lt)."""
    db = run.env.database
    result = run.executor.run(
        spec,
        ["find", db.backups, "-maxdepth", "1", "-type", "f", "-name", pattern or db.backup_pattern,
         "-printf", r"%T@\t%s\t%p\n"],
        mutating=False,
        check=False,
    )  # fmt: skip
    files = []
    for line in result.stdout.splitlines():
        mtime, size, path = line.split("\t", 2)
        files.append(BackupFile(path, int(size), float(mtime)))
    return sorted(files, key=lambda f: f.mtime, reverse=True)


def host_time(run: Run, spec: str) -> float:
    return float(run.executor.run(spec, ["date", "+%s.%N"], mutating=False).stdout.strip())


def resolve_backup_path(run: Run, given: str) -> str:
    return given if posixpath.isabs(given) else posixpath.join(run.env.database.backups, given)


def choose_backup(run: Run, spec: str, given: str | None, deployed_at: float) -> BackupFile:
    """--backup, or the newest matching backup taken before the defective release was deployed."""
    if given is not None:
        path = resolve_backup_path(run, given)
        folder, name = posixpath.split(path)
        found = [f for f in list_backups(run, spec, name) if posixpath.dirname(f.path) == folder]
        if not found:
            raise StepFailed(escalation(f"the backup {path} does not exist on {spec}"))
        return found[0]
    candidates = [f for f in list_backups(run, spec) if f.mtime < deployed_at]
    if not candidates:
        pattern = posixpath.join(run.env.database.backups, run.env.database.backup_pattern)
        raise StepFailed(
            escalation(f"no backup {pattern} older than the deployed release on {spec}")
        )
    return candidates[0]


def check_backup(run: Run, spec: str, file: BackupFile) -> Backup:
    """Non-empty, younger than the maximum age, and complete (pg_restore --list / dump trailer)."""
    if file.size == 0:
        raise StepFailed(escalation(f"the backup {file.path} is empty (0 bytes)"))
    age = host_time(run, spec) - file.mtime
    limit = run.env.database.max_backup_age
    if age > limit:
        raise StepFailed(
            escalation(
                f"the backup {file.path} is {age / 3600:.1f} h old, over the environment's "
                f"limit of {limit / 3600:.1f} h"
            )
        )
    fmt = backup_format(run, spec, file.path)
    if fmt == "custom":
        listed = run.executor.run(
            spec, ["pg_restore", "--list", "-f", "/dev/null", file.path], mutating=False,
            check=False,
        )  # fmt: skip
        if not listed.ok:
            raise StepFailed(escalation(f"the backup {file.path} fails `pg_restore --list`"))
    else:
        head = _read(run, spec, ["head", "-n", "40", file.path])
        tail = _read(run, spec, ["tail", "-c", "512", file.path])
        if PLAIN_HEADER not in head:
            raise StepFailed(escalation(f"the backup {file.path} is not a pg_dump file"))
        if PLAIN_TRAILER not in tail:
            raise StepFailed(
                escalation(
                    f"the backup {file.path} is truncated: pg_dump's completion line is missing"
                )
            )
    _check_marker(run, spec, file.path, fmt)
    digest = _read(run, spec, ["sha256sum", file.path]).split()[0]
    return Backup(file.path, file.size, file.mtime, age, fmt, digest)


def _check_marker(run: Run, spec: str, path: str, fmt: str) -> None:
    """A backup of this database holds its marker table (e.g. django_migrations)."""
    marker = run.env.database.marker_table
    if not marker:
        return
    if fmt == "custom":
        listing = _read(run, spec, ["pg_restore", "--list", path])
        found = f"TABLE public {marker} " in listing
    else:
        needle = f"CREATE TABLE public.{marker} ("
        found = run.executor.run(
            spec, ["grep", "-q", "-F", needle, path], mutating=False, check=False
        ).ok
    if not found:
        raise StepFailed(
            escalation(
                f"the backup {path} has no table {marker}: it is not a backup of this database"
            )
        )


def backup_format(run: Run, spec: str, path: str) -> str:
    """Recognised by content, not by name: custom format starts with PGDMP."""
    magic = _read(run, spec, ["head", "-c", "5", path])
    return "custom" if magic == CUSTOM_MAGIC else "plain"


def _read(run: Run, spec: str, argv: list[str]) -> str:
    return run.executor.run(spec, argv, mutating=False).stdout


def escalation(problem: str) -> str:
    return (
        f"CRITICO: no valid backup — {problem}. Escalate to the Tech Lead (PROCED-BACK-003 "
        "Paso 1.3: 'Si no hay backup valido, escalar a Tech Lead'). Nothing was changed."
    )
