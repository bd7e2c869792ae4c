"""§9 — rollback of the rollback: put back the pre-rollback state a journal recorded, then check it.

Undoes, in reverse, what the journal says was done: the database from the pre-rollback backup (if
Etapa 4 or Paso 3.0's reverse migrations had begun), the code at the recorded commit with its
exact package set and static files, the maintenance page off, the services that were running
started again.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollbook.actions import database, dependencies, fleet, row_recovery, static, swap, web
from rollbook.core import inventory, timeline
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.host import Host
from rollbook.core.resources import Checkout, Venv
from rollbook.core.run import Run
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


def _changes(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(paso, host) of every change the run journaled (its intents), in journal order."""
    return [
        (str(e.get("paso")), str(e["host"]))
        for e in events
        if e["event"] == "intent" and not e.get("declared")
    ]


def recover(run: Run, events: list[dict[str, Any]]) -> Recovery:
    """The pre-rollback state put back from the journal's `events`, then checked."""
    with run.executor.acting_for("9.1"):  # §9's commands are journaled under Paso 9.1
        return _recover(run, events)


def _recover(run: Run, events: list[dict[str, Any]]) -> Recovery:
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

    if dead_commands.unfinished(events):  # a runner killed alone: its last command may still run
        act("stop the dead run's unfinished commands", lambda: dead_commands.stop(run, events))
        if result.actions[-1][1] != "ok":  # acting beside a live command would race it
            run.journal.write("recovery_finished", ok=False, actions=result.actions, checks=[])
            return result
    safety = facts.get("pre_rollback_backup")
    started = facts.get("safety_dump_started")
    if started and not safety:  # the run died inside Paso 4.1's pg_dump: say what it left
        note = database.unfinished_dump(run.first_host("db"), started["path"])
        run.say(f"§9 recovery: {note}")
        run.journal.write("recovery_note", note=note)
    # dropped for the restore, or changed by Paso 3.0's reverse migrations: the safety dump
    if ("database_dropped" in facts or "migrations_reversing" in facts) and safety:
        act(f"restore the database from {safety['path']}",
            lambda: database.restore_database(run, safety["path"]))  # fmt: skip
    swapped = facts.get("database_swapped")
    if swapped:
        act("rename the pre-rollback database back", lambda: run.say(swap.undo(run, swapped)))
    scratch = facts.get("salvage_scratch")
    if scratch:  # Paso 4.5's copy of the safety dump, if a dead run left it
        act(f"drop the scratch database {scratch['name']}",
            lambda: row_recovery.drop_scratch(run, scratch["name"]))  # fmt: skip
    shadow = facts.get("shadow_created")
    if shadow:
        act(f"drop the shadow database {shadow['name']}",
            lambda: swap.drop_shadow(run, shadow["name"]))  # fmt: skip
    if facts.get("connections_allowed", {}).get("allowed") is False:
        act("allow connections to the database again",
            lambda: database.set_connections(run, allowed=True))  # fmt: skip
    code_before = facts.get("code_before", {}).get("hosts", {})
    code_pasos = [(paso, host) for paso, host in changes if paso.startswith("3.") and paso != "3.0"]
    changed = list(dict.fromkeys(host for _, host in code_pasos))  # 3.0 changed the database
    if changed and code_before:
        shown = ", ".join(inventory.label(spec) for spec in changed)
        act(f"put back the recorded code, packages and static files on {shown}",
            lambda: _restore_code(run, code_before, changed))  # fmt: skip
    if "2.3" in pasos or "5.3" in pasos:
        act("maintenance page off", lambda: web.maintenance_everywhere(run, on=False))
    before = facts.get("services_before", {}).get("running", {})
    if "services_stopped" in facts:
        act("start the services that were running", lambda: _start_services(run, before))
    for spec, error in remove_private_files(run, events).items():
        result.actions.append((f"remove the dead run's private files on {spec}", error or "ok"))
    _check(run, result, facts, code_before, before)
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


def _start_services(run: Run, before: dict[str, bool]) -> None:
    def start(host: Host) -> None:
        names = [n for n in run.env.services.app if before.get(f"{host.spec} {n}", True)]
        manager_for(host, run.env.services).start(names)

    fleet.each_host(run, "app", start)


def _check(
    run: Run,
    result: Recovery,
    facts: dict[str, dict[str, Any]],
    code_before: dict[str, dict[str, Any]],
    before: dict[str, bool],
) -> None:
    def check(name: str, probe: Callable[[], tuple[bool, str]]) -> None:
        try:
            ok, detail = probe()
        except (StepFailed, UserError) as exc:
            ok, detail = False, str(exc)
        result.checks.append((name, ok, detail))
        run.journal.write("recovery_check", check=name, ok=ok, detail=detail)

    safety = facts.get("pre_rollback_backup")
    if safety and "oid" in safety:
        check("the database is the pre-rollback one (swap)",
              lambda: swap.is_pre_rollback_database(run, safety["oid"]))  # fmt: skip
    if safety and "tables" in safety:
        check("database content equals the pre-rollback state",
              lambda: _same(database.fingerprints(run.postgres()), safety["tables"]))  # fmt: skip
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
        manager = manager_for(run.executor.host(spec), run.env.services)
        check(
            f"{spec} {name} running={was_running}",
            lambda m=manager, n=name, w=was_running: _same(m.is_running(n), w),
        )
    for key, status in facts.get("answers_before", {}).get("urls", {}).items():
        check(f"{key} answers {status or 'nothing'} as before the run (or 200)",
              lambda k=key, s=status: _answers_as_before(run, k, s))  # fmt: skip


def _answers_as_before(run: Run, key: str, status: int) -> tuple[bool, str]:
    """The URL answers as it did before the run, or better (200); the restarted services may
    warm up for their start timeout."""

    def as_before() -> str | None:
        code = web.answer(run, key)
        return f"answers {code or 'nothing'}" if code in (status, 200) else None

    said = wait_until(as_before, run.env.services.start_timeout, interval=1)
    if said:
        return True, said
    return False, f"answers {web.answer(run, key) or 'nothing'}, {status or 'nothing'} before"


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
