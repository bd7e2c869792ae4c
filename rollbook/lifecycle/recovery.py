"""§9 — rollback of the rollback: put back the pre-rollback state a journal recorded, then check it.

Undoes, in reverse, what the journal says was done: the database from the pre-rollback backup (if
Etapa 4 or Paso 3.0's reverse migrations had begun), the code at the recorded commit with its
exact package set and static files, the maintenance page off, the services that were running
started again.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollbook.actions import (
    database,
    dependencies,
    fleet,
    row_recovery,
    serving,
    static,
    swap,
    web,
    workers,
)
from rollbook.actions.serving import process_table
from rollbook.core import inventory, timeline
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.host import Host
from rollbook.core.journal import read_journal
from rollbook.core.resources import Checkout, Venv
from rollbook.core.run import Run
from rollbook.core.state import (
    AnswersBefore,
    CodeBefore,
    ConnectionsAllowed,
    DatabaseDropped,
    DatabaseSwapped,
    MigrationsReversing,
    SafetyDump,
    SafetyDumpStarted,
    SalvageScratch,
    ServicesBefore,
    ShadowCreated,
    WorkersBefore,
)
from rollbook.core.waiting import wait_until
from rollbook.lifecycle import dead_commands
from rollbook.services import manager_for

ESCALATION = (
    "ESCALAR A TECH LEAD Y DBA INMEDIATAMENTE (PROCED-BACK-003 §9.1). Contingencia (§9.2): "
    "restaurar desde el backup más antiguo conocido estable, reconstruir desde réplicas, "
    "contactar al proveedor, escalar a CTO."
)


@dataclass
class Recovery:
    actions: list[tuple[str, str]] = field(default_factory=list)  # (action, "ok" | error)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (check, ok, detail)

    @property
    def ok(self) -> bool:
        return all(r == "ok" for _, r in self.actions) and all(ok for _, ok, _ in self.checks)


def journal_of(run: Run) -> Path:
    """The journal of the incident named by --incident, in the report folder — sealed in this
    run's journal (its sha256), never written again: evidence of what happened to it."""
    incident = run.options.incident
    if not incident or "/" in incident or incident.startswith("."):
        raise UserError("--incident=ID is required: the id of the folder in the report directory")
    path = run.options.report_dir / incident / "journal.jsonl"
    if not path.is_file():
        raise UserError(f"no journal at {path}: check --incident and --report-dir")
    run.journal.seal(path, incident)
    return path


HEAD_EVENTS = 100  # a §9 run says whom it recovers before its first Paso


def recovered_by(path: Path) -> str | None:
    """The incident a §9 run recovers, read from the start of its journal (None: not a §9 run,
    or a journal that cannot be read — another incident's evidence, never this run's to judge)."""
    try:
        for event in itertools.islice(read_journal(path), HEAD_EVENTS):
            if event["event"] == "recovering":
                return str(event["incident"])
    except (OSError, ValueError, KeyError):
        return None
    return None


def original_incident(run: Run) -> str:
    """The rollback this §9 run must put back: --incident, or, when --incident names a §9 run
    (one that died, or failed), the rollback that one was recovering — said and journaled."""
    named = journal_of(run)
    original = recovered_by(named) or str(run.options.incident)
    if original != run.options.incident:
        run.say(f"§9: incident {run.options.incident} was itself a §9 recovery of incident "
                f"{original}: recovering {original}")  # fmt: skip
    run.journal.write("recovering", incident=original, asked=run.options.incident)
    return original


@dataclass(frozen=True)
class Earlier:
    """What §9 acts on: the rollback's journal, and those of its §9 runs that did not finish
    (their commands may still run; their private files are left)."""

    events: list[dict[str, Any]]
    interrupted: list[list[dict[str, Any]]]


def journals_of(run: Run) -> Earlier:
    """The rollback's journal (sealed) and those of earlier §9 runs of it that have no outcome,
    from the report folder."""
    original = next(e["incident"] for e in run.journal.events("recovering"))
    path = run.options.report_dir / original / "journal.jsonl"
    if not path.is_file():
        raise UserError(f"no journal at {path}: check --incident and --report-dir")
    run.journal.seal(path, original)
    interrupted = []
    for other in sorted(run.options.report_dir.glob("*/journal.jsonl")):
        if other.parent.name == run.incident_id or recovered_by(other) != original:
            continue
        events = list(read_journal(other))
        if not any(e["event"] == "outcome" for e in events):
            run.journal.seal(other, other.parent.name)
            interrupted.append(events)
    return Earlier(list(read_journal(path)), interrupted)


def _changes(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(paso, host) of every change the run journaled (its intents), in journal order."""
    return [
        (str(e.get("paso")), str(e["host"]))
        for e in events
        if e["event"] == "intent" and not e.get("declared")
    ]


def recover(
    run: Run, events: list[dict[str, Any]], interrupted: list[list[dict[str, Any]]] | None = None
) -> Recovery:
    """The pre-rollback state put back from the journal's `events`, then observed. `interrupted`:
    the journals of earlier §9 runs of the same incident that died (their commands are stopped
    and their private files removed; what they did is redone from `events`)."""
    with run.executor.acting_for("9.1"):  # §9's commands are journaled under Paso 9.1
        return _recover(run, events, interrupted or [])


def _recover(
    run: Run, events: list[dict[str, Any]], interrupted: list[list[dict[str, Any]]]
) -> Recovery:
    facts = timeline.facts(events)
    changes = _changes(events)
    pasos = {paso for paso, _ in changes}
    result = Recovery()
    run.journal.write("recovery_started", pasos_changed=sorted(pasos))

    def act(name: str, action: Callable[[], object]) -> None:
        run.say(f"§9 recovery: {name} …")
        try:
            action()
            result.actions.append((name, "ok"))
        except (StepFailed, UserError) as exc:
            result.actions.append((name, str(exc)))
        run.journal.write("recovery_action", action=name, result=result.actions[-1][1])

    journals = [events, *interrupted]  # a dead run's last command may still run: stop it first
    if any(dead_commands.unfinished(journal) for journal in journals):
        act("stop the dead run's unfinished commands",
            lambda: [dead_commands.stop(run, journal) for journal in journals])  # fmt: skip
        if result.actions[-1][1] != "ok":  # acting beside a live command would race it
            run.journal.write("recovery_finished", ok=False, actions=result.actions, checks=[])
            return result
    services = ServicesBefore.read(facts)
    before = services.running if services else {}
    if before:  # Paso 2.2 began: whatever runs now may run the target's code — stop it first
        act("stop the app services before putting anything back", lambda: _stop_services(run))
    safety = SafetyDump.read(facts)
    started = SafetyDumpStarted.read(facts)
    if started and not safety:  # the run died inside Paso 4.1's pg_dump: say what it left
        note = database.unfinished_dump(run.first_host("db"), started.path)
        run.say(f"§9 recovery: {note}")
        run.journal.write("recovery_note", note=note)
    # dropped for the restore, or changed by Paso 3.0's reverse migrations: the safety dump
    changed_database = DatabaseDropped.read(facts) or MigrationsReversing.read(facts)
    if changed_database and safety:
        act(f"restore the database from {safety.path}",
            lambda: database.restore_database(run, safety.path))  # fmt: skip
    swapped = DatabaseSwapped.read(facts)
    if swapped:
        act("rename the pre-rollback database back", lambda: run.say(swap.undo(run, swapped)))
    scratch = SalvageScratch.read(facts)
    if scratch:  # Paso 4.5's copy of the safety dump, if a dead run left it
        act(f"drop the scratch database {scratch.name}",
            lambda: row_recovery.drop_scratch(run, scratch.name))  # fmt: skip
    shadow = ShadowCreated.read(facts)
    if shadow:
        act(f"drop the shadow database {shadow.name}",
            lambda: swap.drop_shadow(run, shadow.name))  # fmt: skip
    connections = ConnectionsAllowed.read(facts)
    if connections and not connections.allowed:
        act("allow connections to the database again",
            lambda: database.set_connections(run, allowed=True))  # fmt: skip
    recorded = CodeBefore.read(facts)
    code_before = recorded.hosts if recorded else {}
    code_pasos = [(paso, host) for paso, host in changes if paso.startswith("3.") and paso != "3.0"]
    changed = list(dict.fromkeys(host for _, host in code_pasos))  # 3.0 changed the database
    if changed and code_before:
        shown = ", ".join(inventory.label(spec) for spec in changed)
        act(f"put back the recorded code, packages and static files on {shown}",
            lambda: _restore_code(run, code_before, changed))  # fmt: skip
    restarted: dict[str, Restart] = {}
    if before:
        act("restart the services that were running",
            lambda: restarted.update(_restart_services(run, before)))  # fmt: skip
    if "2.3" in pasos or "5.3" in pasos:
        act("maintenance page off", lambda: web.maintenance_everywhere(run, on=False))
    for journal in journals:
        for spec, error in remove_private_files(run, journal).items():
            result.actions.append((f"remove the dead run's private files on {spec}", error or "ok"))
    _check(run, result, facts, code_before, before, restarted)
    run.journal.write(
        "recovery_finished", ok=result.ok, actions=result.actions, checks=result.checks
    )
    return result


def remove_private_files(run: Run, events: list[dict[str, Any]]) -> dict[str, str | None]:
    """Another (dead) incident's private folders (its pgpass files) removed from its hosts:
    {host: error or None}. This run's own folders are removed when it closes."""
    started = next((e for e in events if e["event"] == "run_started"), {})
    incident = started.get("incident")
    if not incident or incident == run.incident_id:
        return {}
    done: dict[str, str | None] = {}
    folders = {(e["host"], posixpath.dirname(e["path"])) for e in events
               if e["event"] == "private_file"}  # fmt: skip
    for spec, folder in sorted(folders):
        done[spec] = run.executor.connection(spec).remove_folder(folder)
        run.journal.write("private_files_removed", host=spec, incident=incident, path=folder,
                          error=done[spec])  # fmt: skip
    return done


def _restore_code(run: Run, code_before: dict[str, dict[str, Any]], changed: list[str]) -> None:
    def restore(host: Host) -> None:
        recorded = code_before[host.spec]
        Checkout(host, run.env.app.path).git("checkout", recorded["commit"], mutating=True)
        dependencies.install_exact(host, run.env, recorded["freeze"], run.incident_id)
        if "static" in recorded:  # the snapshot taken before Etapa 3, exactly
            static.put_back(host, run.env, recorded["static"])
        else:  # a journal from before snapshots: the static steps at the recorded commit
            static.build_on(host, run.env)

    fleet.each_host(run, "app", restore, among=[s for s in changed if s in code_before])


def _stop_services(run: Run) -> None:
    """Every app service stopped on every app host, and its processes gone (the manager's
    autorestart, a leftover of Paso 5.1, a service started by hand: none may keep the target's
    code running under what §9 puts back)."""

    def stop(host: Host) -> None:
        manager = manager_for(host, run.env.services)
        names = run.env.services.app
        manager.stop(names)
        roots = {pid for name in names for pid in manager.pids(name)}
        if not wait_until(lambda: not roots & _alive(host), run.env.services.stop_timeout):
            left = sorted(roots & _alive(host))
            raise StepFailed(f"{host.name}: processes {left} of the app services did not stop")

    fleet.each_host(run, "app", stop)


def _alive(host: Host) -> set[int]:
    return {pid for pid, _, _ in process_table(host)}


@dataclass(frozen=True)
class Restart:
    """A host's restart by §9: when it began (s since the host booted, after every restore
    action) and each service's log end before it (what a worker wrote since is since then)."""

    uptime: float
    marks: dict[str, list[str]]


def _restart_services(run: Run, before: dict[str, bool]) -> dict[str, Restart]:
    """The services that were running before the run restarted (stopped first if anything
    started them meanwhile); {host: its Restart}."""

    def restart(host: Host) -> Restart:
        manager = manager_for(host, run.env.services)
        names = [n for n in run.env.services.app if before.get(f"{host.spec} {n}", True)]
        done = Restart(serving.host_uptime(host), workers.log_marks(manager, names))
        run.journal.write("recovery_restart", host=host.spec, uptime=done.uptime, names=names)
        manager.restart(names)
        return done

    return fleet.each_host(run, "app", restart)


def _check(
    run: Run,
    result: Recovery,
    facts: dict[str, dict[str, Any]],
    code_before: dict[str, dict[str, Any]],
    before: dict[str, bool],
    restarted: dict[str, Restart],
) -> None:
    def check(name: str, probe: Callable[[], tuple[bool, str]]) -> None:
        try:
            ok, detail = probe()
        except (StepFailed, UserError) as exc:
            ok, detail = False, str(exc)
        result.checks.append((name, ok, detail))
        run.journal.write("recovery_check", check=name, ok=ok, detail=detail)

    safety = SafetyDump.read(facts)
    if safety and safety.oid:
        oid = safety.oid
        check("the database is the pre-rollback one (swap)",
              lambda: swap.is_pre_rollback_database(run, oid))  # fmt: skip
    if safety and safety.tables is not None:
        tables = safety.tables
        check("database content equals the pre-rollback state",
              lambda: _same(database.fingerprints(run.postgres()), tables))  # fmt: skip
    for spec, recorded in code_before.items():
        host = run.executor.host(spec)
        check(
            f"{spec} code at {recorded['commit'][:12]}",
            lambda h=host, r=recorded: _same(Checkout(h, run.env.app.path).head(), r["commit"]),
        )
        if recorded.get("static", {}).get("sha256"):
            check(
                f"{spec} static files as recorded",
                lambda h=host, r=recorded: _same(
                    static.content_hash(h, run.env), r["static"]["sha256"]
                ),
            )
        check(
            f"{spec} packages as recorded",
            lambda h=host, r=recorded: _same(
                dependencies.comparable(Venv(h, run.env.app).freeze(), r["freeze"]),
                sorted(r["freeze"]),
            ),
        )
    for key, was_running in before.items():
        spec, name = key.rsplit(" ", 1)
        host = run.executor.host(spec)
        if was_running and spec in restarted:
            check(f"{spec} {name} restarted after the restore (its processes observed)",
                  lambda h=host, n=name, r=restarted[spec]: _fresh(run, h, n, r))  # fmt: skip
        else:
            manager = manager_for(host, run.env.services)
            check(f"{spec} {name} running={was_running}",
                  lambda m=manager, n=name, w=was_running: _same(m.is_running(n), w))  # fmt: skip
    workers_before = WorkersBefore.read(facts)
    ready_before = workers_before.hosts if workers_before else {}
    for spec, restart in restarted.items():
        waiting = [n for n in run.env.services.workers if before.get(f"{spec} {n}")]
        if not waiting or len(waiting) < len(run.env.services.workers):
            continue
        was = ready_before.get(spec, {"ready": True})
        if not was["ready"]:  # nothing to give back: said, never counted as a check
            note = f"{spec} workers not checked: not ready before the run either ({was['said']})"
            run.say(f"§9 recovery: {note}")
            run.journal.write("recovery_note", note=note)
            continue
        host = run.executor.host(spec)
        check(f"{spec} workers ready ({', '.join(waiting)})",
              lambda h=host, r=restart: (True, workers.check_host(h, run.env, r.marks,
                                                                 wait=True)))  # fmt: skip
    answers = AnswersBefore.read(facts)
    for key, value in (answers.urls if answers else {}).items():
        was = web.Answer.recorded(value)
        check(f"{key} answers {was.said()} as before the run",
              lambda k=key, w=was: _answers_as_before(run, k, w))  # fmt: skip


def _fresh(run: Run, host: Host, name: str, restart: Restart) -> tuple[bool, str]:
    """The service runs again, every process of it younger than §9's restart and free of files
    the restore deleted."""
    manager = manager_for(host, run.env.services)
    if not wait_until(lambda: manager.is_running(name), run.env.services.start_timeout):
        return (
            False,
            f"{name} is not running {run.env.services.start_timeout:.0f} s after §9 started it",
        )
    return serving.fresh_since(serving.observe(host, run.env, manager, name), restart.uptime)


def _answers_as_before(run: Run, key: str, was: web.Answer) -> tuple[bool, str]:
    """The URL answers as it did before the run: the same status, and the same body where two
    reads before the run agreed on it; the restarted services may warm up for their start
    timeout."""

    def as_before() -> str | None:
        now = web.answer(run, key)
        return f"answers {now.said()}" if now.same_as(was) else None

    said = wait_until(as_before, run.env.services.start_timeout, interval=1)
    if said:
        return True, said
    return False, f"answers {web.answer(run, key).said()}, {was.said()} before the run"


def _same(found: Any, expected: Any) -> tuple[bool, str]:
    if found == expected:
        return True, "as recorded"
    if isinstance(found, dict) and isinstance(expected, dict):
        diff = [k for k in sorted(set(found) | set(expected)) if found.get(k) != expected.get(k)]
        return False, f"differs in: {', '.join(diff)}"
    if isinstance(found, list) and isinstance(expected, list):
        return (
            False,
            f"differs: +{sorted(set(found) - set(expected))} -{sorted(set(expected) - set(found))}",
        )
    return False, f"found {found!r}, expected {expected!r}"
