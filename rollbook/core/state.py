"""Typed records of what a run learnt before it changed something, and of each change begun:
what §9 needs to put the pre-rollback state back. Each is written once by the Paso that learns it
(`Run.keep`), journaled as a `fact` under its KEY, and read back by type (`Run.known`, or
`Record.read` over a journal's facts) — never by a string key spelt again elsewhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Record:
    KEY: ClassVar[str]

    def value(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, facts: dict[str, dict[str, Any]]) -> Self | None:
        """The record among a journal's facts (keys a newer version added are left out)."""
        raw = facts.get(cls.KEY)
        if raw is None:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in raw.items() if name in known})


@dataclass(frozen=True)
class ServicesBefore(Record):
    """Paso 2.2, before the stop: {"<host> <service>": was it running}."""

    KEY: ClassVar[str] = "services_before"
    running: dict[str, bool]


@dataclass(frozen=True)
class WorkersBefore(Record):
    """Paso 2.1: each app host's workers tried once by their method, before any change:
    {host: {"ready": bool, "said": str}}."""

    KEY: ClassVar[str] = "workers_before"
    hosts: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class AnswersBefore(Record):
    """Paso 2.1: how every configured URL answered before any change:
    {"<host> <url>": {"status": int, "body": sha256 or None}} (a bare status in old journals)."""

    KEY: ClassVar[str] = "answers_before"
    urls: dict[str, Any]


@dataclass(frozen=True)
class CodeBefore(Record):
    """Before Etapa 3: each app host's commit, tag, `pip freeze --all` and static snapshot."""

    KEY: ClassVar[str] = "code_before"
    hosts: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SafetyDumpStarted(Record):
    """Paso 4.1 (or 3.0) began its pg_dump to `path` (PATH.partial until it finished)."""

    KEY: ClassVar[str] = "safety_dump_started"
    path: str


@dataclass(frozen=True)
class SafetyDump(Record):
    """The pre-rollback database, kept: the checked dump at `path` (size, sha256, format, and the
    per-table fingerprints taken before it), or, under swap, the database itself renamed aside as
    `database` (identified by its `oid`), dumped to `path` at Paso 5.4."""

    KEY: ClassVar[str] = "pre_rollback_backup"
    path: str
    size: int | None = None
    sha256: str | None = None
    format: str | None = None
    tables: dict[str, dict[str, Any]] | None = None
    database: str | None = None
    oid: str | None = None
    dumped_at: str | None = None
    planned: bool = False


@dataclass(frozen=True)
class DatabaseDropped(Record):
    """Paso 4.3 (or §9) dropped the database to restore `restoring` into it."""

    KEY: ClassVar[str] = "database_dropped"
    name: str
    restoring: str


@dataclass(frozen=True)
class MigrationsReversing(Record):
    """Paso 3.0 began reversing the deployed release's migrations."""

    KEY: ClassVar[str] = "migrations_reversing"
    commands: list[Any]


@dataclass(frozen=True)
class DatabaseSwapped(Record):
    """Paso 4.3 under swap: `name` renamed to `aside`, `shadow` renamed to `name`."""

    KEY: ClassVar[str] = "database_swapped"
    name: str
    aside: str
    shadow: str


@dataclass(frozen=True)
class ShadowCreated(Record):
    """Paso 4.0 under swap: the shadow database `name`, restored from `source`."""

    KEY: ClassVar[str] = "shadow_created"
    name: str
    source: str


@dataclass(frozen=True)
class SalvageScratch(Record):
    """Paso 4.5's scratch copy of the safety dump."""

    KEY: ClassVar[str] = "salvage_scratch"
    name: str


@dataclass(frozen=True)
class ConnectionsAllowed(Record):
    """Paso 4.2 (and its undo): whether the database accepts new connections."""

    KEY: ClassVar[str] = "connections_allowed"
    allowed: bool
