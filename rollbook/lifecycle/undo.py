"""§9's undo of each operation a rollback began (rollbook.core.state.Change).

Every kind of operation has one undo here. `plan` turns a journal's begun operations into the
steps that put the pre-rollback state back: kinds in reverse order of their last begun operation
(the maintenance page last: users reach the app again only once it is back), each undo once even
when two operations share it (Paso 3.0's reverse migrations and Paso 4.3's drop both restore the
safety dump).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rollbook.actions import (
    database,
    dependencies,
    fleet,
    new_venv,
    serving,
    static,
    web,
    workers,
)
from rollbook.actions.database import row_recovery, swap
from rollbook.core import inventory
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.operations import (
    Change,
    CodeChanged,
    ConnectionsRefused,
    DatabaseDropped,
    DatabaseSwapped,
    MaintenanceOn,
    MigrationsReversing,
    SafetyDumpStarted,
    SalvageScratch,
    ServicesStopped,
    ShadowCreated,
    VenvStaged,
    VenvSwitched,
)
from rollbook.core.resources import Checkout
from rollbook.core.run import Run
from rollbook.core.state import CodeBefore, SafetyDump, VenvRenamedBack
from rollbook.core.waiting import wait_until
from rollbook.services import manager_for

Facts = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Restart:
    """A host's restart by §9: when it began (s since the host booted, after every restore
    action) and each service's log end before it (what a worker wrote since is since then)."""

    uptime: float
    marks: dict[str, list[str]]


@dataclass
class Undoing:
    """What the undo steps share: the run, the rollback's facts, and the restarts they made."""

    run: Run
    facts: Facts
    restarted: dict[str, Restart] = field(default_factory=dict)


@dataclass(frozen=True)
class Undo:
    name: str  # what the operator reads; the same name is one undo
    action: Callable[[], object]


def plan(ctx: Undoing, changes: list[Change]) -> list[Undo]:
    """The undo steps of `changes` (a journal's begun operations, in order)."""
    last = {type(change): n for n, change in enumerate(changes)}
    steps: dict[str, Undo] = {}
    for kind in sorted(last, key=lambda kind: (kind.LAST, -last[kind])):
        for step in UNDO[kind](ctx, [c for c in changes if type(c) is kind]):
            steps.setdefault(step.name, step)
    return list(steps.values())


def ran_before(changes: list[Change], names: list[str]) -> dict[str, bool]:
    """{"<host> <service>": did it run before Paso 2.2 stopped it} for every host it stopped."""
    stopped: dict[str, list[str]] = {}
    for change in changes:
        if isinstance(change, ServicesStopped):
            stopped.setdefault(change.host, change.running)  # the first stop saw the truth
    return {
        f"{host} {name}": name in running for host, running in stopped.items() for name in names
    }


def _services(ctx: Undoing, changes: list[ServicesStopped]) -> list[Undo]:
    before = ran_before(list(changes), ctx.run.site.env.services.app)
    return [
        Undo(
            "restart the services that were running",
            lambda: ctx.restarted.update(restart_services(ctx.run, before)),
        )
    ]


def _maintenance(ctx: Undoing, changes: list[MaintenanceOn]) -> list[Undo]:
    r = ctx.run
    hosts = list(dict.fromkeys(spec for change in changes for spec in change.hosts))

    def off() -> None:
        web.maintenance_everywhere(r.incident, r.site, r.records, on=False, among=hosts)

    return [Undo("maintenance page off", off)]


def _code(ctx: Undoing, changes: list[CodeChanged]) -> list[Undo]:
    recorded = CodeBefore.read(ctx.facts)
    hosts = list(dict.fromkeys(change.host for change in changes))
    shown = ", ".join(inventory.label(spec) for spec in hosts)
    name = f"put back the recorded code, packages and static files on {shown}"
    if recorded is None:
        return [Undo(name, _missing("the code before Etapa 3 (code_before)"))]
    return [Undo(name, lambda: restore_code(ctx.run, recorded.hosts, hosts))]


def _venv_switched(ctx: Undoing, changes: list[VenvSwitched]) -> list[Undo]:
    r, by_host = ctx.run, {change.host: change for change in changes}

    def back() -> None:
        moved = fleet.each_host(
            r.incident,
            r.site,
            "app",
            lambda host: new_venv.switch_back(host, by_host[host.spec]),
            among=list(by_host),
        )
        r.records.keep(VenvRenamedBack(sorted(spec for spec, ok in moved.items() if ok)))

    return [Undo(f"rename the venv set aside ({changes[-1].aside}) back into place", back)]


def _venv_staged(ctx: Undoing, changes: list[VenvStaged]) -> list[Undo]:
    r, by_host = ctx.run, {change.host: change for change in changes}

    def remove() -> None:
        fleet.each_host(
            r.incident,
            r.site,
            "app",
            lambda host: new_venv.remove_staged(host, r.site.env, by_host[host.spec]),
            among=list(by_host),
        )

    return [Undo(f"remove the new venv {changes[-1].path}", remove)]


def _dump_started(ctx: Undoing, changes: list[SafetyDumpStarted]) -> list[Undo]:
    if SafetyDump.read(ctx.facts):  # it finished and was checked
        return []
    path = changes[-1].path

    def look() -> None:  # the run died inside its pg_dump: say what it left
        note = database.unfinished_dump(ctx.run.site.first_host("db"), path)
        ctx.run.incident.say(f"§9 recovery: {note}")
        ctx.run.incident.journal.write("recovery_note", note=note)

    return [Undo(f"look at what the unfinished safety dump {path} left", look)]


def _database(
    ctx: Undoing, changes: list[DatabaseDropped] | list[MigrationsReversing]
) -> list[Undo]:
    r = ctx.run
    safety = SafetyDump.read(ctx.facts)
    if safety is None:
        return [Undo("restore the database", _missing("the safety dump (pre_rollback_backup)"))]
    path = safety.path
    return [
        Undo(
            f"restore the database from {path}",
            lambda: database.restore_database(r.incident, r.site, r.records, path),
        )
    ]


def _connections(ctx: Undoing, changes: list[ConnectionsRefused]) -> list[Undo]:
    r = ctx.run
    return [
        Undo(
            "allow connections to the database again",
            lambda: database.set_connections(r.site, r.records, allowed=True),
        )
    ]


def _shadow(ctx: Undoing, changes: list[ShadowCreated]) -> list[Undo]:
    return [
        Undo(
            f"drop the shadow database {c.name}", lambda n=c.name: swap.drop_shadow(ctx.run.site, n)
        )
        for c in changes
    ]


def _swapped(ctx: Undoing, changes: list[DatabaseSwapped]) -> list[Undo]:
    r = ctx.run
    swapped = changes[-1]
    return [
        Undo(
            "rename the pre-rollback database back",
            lambda: r.incident.say(swap.undo(r.incident, r.site, swapped)),
        )
    ]


def _scratch(ctx: Undoing, changes: list[SalvageScratch]) -> list[Undo]:
    drop = row_recovery.drop_scratch
    return [
        Undo(f"drop the scratch database {c.name}", lambda n=c.name: drop(ctx.run.site, n))
        for c in changes
    ]


UNDO: dict[type[Change], Callable[[Undoing, Any], list[Undo]]] = {
    ServicesStopped: _services,
    MaintenanceOn: _maintenance,
    CodeChanged: _code,
    VenvStaged: _venv_staged,
    VenvSwitched: _venv_switched,
    SafetyDumpStarted: _dump_started,
    MigrationsReversing: _database,
    DatabaseDropped: _database,
    ConnectionsRefused: _connections,
    ShadowCreated: _shadow,
    DatabaseSwapped: _swapped,
    SalvageScratch: _scratch,
}


def _missing(what: str) -> Callable[[], object]:
    def fail() -> object:
        raise StepFailed(f"the journal lacks {what}: nothing to put back from — restore by hand")

    return fail


def restore_code(run: Run, code_before: dict[str, dict[str, Any]], changed: list[str]) -> None:
    """The recorded commit, exact package set and static files back on the `changed` hosts."""

    def restore(host: Host) -> None:
        recorded = code_before[host.spec]
        Checkout(host, run.site.env.app.path).git("checkout", recorded["commit"], mutating=True)
        dependencies.install_exact(host, run.site.env, recorded["freeze"], run.incident.id)
        static.put_back(host, run.site.env, recorded["static"])

    fleet.each_host(
        run.incident, run.site, "app", restore, among=[s for s in changed if s in code_before]
    )


def stop_services(run: Run, hosts: list[str]) -> None:
    """Every app service stopped on `hosts` (those Paso 2.2 stopped), and its processes gone:
    the manager's autorestart, a leftover of Paso 5.1, a service started meanwhile — none may keep
    the target's code running under what §9 puts back."""

    def stop(host: Host) -> None:
        manager = manager_for(host, run.site.env.services)
        names = run.site.env.services.app
        tree = serving.manager_tree(host, manager, names)  # before the stop: after, it is gone
        manager.stop(names)

        def alive() -> set[int]:
            return tree & {pid for pid, _, _ in serving.process_table(host)}

        if not wait_until(lambda: not alive(), run.site.env.services.stop_timeout):
            raise StepFailed(
                f"{host.name}: processes {sorted(alive())} of the app services "
                "did not stop: stop each by its PID, then run §9 again"
            )

    fleet.each_host(run.incident, run.site, "app", stop, among=hosts)


def restart_services(run: Run, before: dict[str, bool]) -> dict[str, Restart]:
    """The services that were running before the run restarted (stopped first if anything
    started them meanwhile); {host: its Restart}."""
    hosts = sorted({key.rsplit(" ", 1)[0] for key in before})

    def restart(host: Host) -> Restart:
        manager = manager_for(host, run.site.env.services)
        names = [n for n in run.site.env.services.app if before.get(f"{host.spec} {n}")]
        done = Restart(serving.host_uptime(host), workers.log_marks(manager, names))
        run.incident.journal.write(
            "recovery_restart", host=host.spec, uptime=done.uptime, names=names
        )
        if names:
            manager.restart(names)
        return done

    return fleet.each_host(run.incident, run.site, "app", restart, among=hosts)
