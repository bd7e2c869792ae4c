"""The operations a rollback begins: every change a Paso makes, with the data its undo needs.

An operation is journaled (`Run.operation`) as begun (`operation`, its KIND and data) before its
first command, and as done (`operation_done`) after its last. §9 undoes the begun ones in reverse
order (rollbook.lifecycle.undo) and then observes the state it put back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rollbook.core.state import Record


@dataclass(frozen=True)
class Change(Record):
    """An operation a Paso began: what its undo needs. LAST: undone after every other one."""

    LAST: ClassVar[bool] = False


@dataclass(frozen=True)
class ServicesStopped(Change):
    """Paso 2.2 on `host`: its app services stopped; `running` those that ran before."""

    KEY: ClassVar[str] = "services_stopped_on"
    host: str
    running: list[str]


@dataclass(frozen=True)
class MaintenanceOn(Change):
    """Paso 2.3: the maintenance page put up on the proxy `hosts` (after their proxy accepted
    its configuration; taken down last by §9: users reach the app again only once it is back)."""

    KEY: ClassVar[str] = "maintenance_on"
    LAST: ClassVar[bool] = True
    hosts: list[str]


@dataclass(frozen=True)
class CodeChanged(Change):
    """Etapa 3 on `host`: its checkout, packages and static files changed (CodeBefore holds what
    they were)."""

    KEY: ClassVar[str] = "code_changed"
    host: str


@dataclass(frozen=True)
class VenvStaged(Change):
    """Paso 3.4 (app.force_reinstall: new_venv) on `host`: the new venv `path` built beside
    the app's."""

    KEY: ClassVar[str] = "venv_staged"
    host: str
    path: str


@dataclass(frozen=True)
class VenvSwitched(Change):
    """Paso 3.2 under new_venv on `host`: the app's venv `live` renamed to `aside`, the new one
    `staged` renamed to `live`."""

    KEY: ClassVar[str] = "venv_switched"
    host: str
    live: str
    aside: str
    staged: str


@dataclass(frozen=True)
class SafetyDumpStarted(Change):
    """Paso 4.1 (or 3.0) began its pg_dump to `path` (PATH.partial until it finished)."""

    KEY: ClassVar[str] = "safety_dump_started"
    path: str


@dataclass(frozen=True)
class DatabaseDropped(Change):
    """Paso 4.3 (or §9) dropped the database to restore `restoring` into it."""

    KEY: ClassVar[str] = "database_dropped"
    name: str
    restoring: str


@dataclass(frozen=True)
class MigrationsReversing(Change):
    """Paso 3.0 began reversing the deployed release's migrations."""

    KEY: ClassVar[str] = "migrations_reversing"
    commands: list[Any]


@dataclass(frozen=True)
class DatabaseSwapped(Change):
    """Paso 4.3 under swap: `name` renamed to `aside`, `shadow` renamed to `name`."""

    KEY: ClassVar[str] = "database_swapped"
    name: str
    aside: str
    shadow: str


@dataclass(frozen=True)
class ShadowCreated(Change):
    """Paso 4.0 under swap: the shadow database `name`, restored from `source`."""

    KEY: ClassVar[str] = "shadow_created"
    name: str
    source: str


@dataclass(frozen=True)
class SalvageScratch(Change):
    """Paso 4.5's scratch copy of the safety dump."""

    KEY: ClassVar[str] = "salvage_scratch"
    name: str


@dataclass(frozen=True)
class ConnectionsRefused(Change):
    """Paso 4.2: the database `name` takes no new connection."""

    KEY: ClassVar[str] = "connections_refused"
    name: str


CHANGES: dict[str, type[Change]] = {
    kind.KEY: kind
    for kind in (
        ServicesStopped,
        MaintenanceOn,
        CodeChanged,
        VenvStaged,
        VenvSwitched,
        SafetyDumpStarted,
        MigrationsReversing,
        ConnectionsRefused,
        DatabaseDropped,
        ShadowCreated,
        DatabaseSwapped,
        SalvageScratch,
    )
}


def begun(events: list[dict[str, Any]]) -> list[Change]:
    """The operations a journal's events began for real (a dry-run's are planned), in order."""
    return [
        CHANGES[e["kind"]].of(e["data"])
        for e in events
        if e["event"] == "operation" and not e.get("planned") and e["kind"] in CHANGES
    ]
