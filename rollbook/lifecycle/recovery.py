"""§9 — rollback of the rollback: put back the pre-rollback state a journal recorded, then check it.

Stops what a dead run left running (its last command, the app services), undoes every operation
the journal says was begun, in reverse order (rollbook.lifecycle.undo), and observes the state it
put back (rollbook.lifecycle.restored): only what a check observed is declared.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollbook.core import timeline
from rollbook.core.connection import PRIVATE_FOLDER
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.host import Host
from rollbook.core.journal import read_journal
from rollbook.core.operations import begun
from rollbook.core.run import Run
from rollbook.core.verdict import Verdict, judged
from rollbook.lifecycle import dead_commands, restored, undo

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

    def verdict(self) -> Verdict:
        """§9's actions that failed and its checks of the restored state that did not hold."""
        failed = [f"{action}: {said}" for action, said in self.actions if said != "ok"]
        failed += [f"{check}: {detail}" for check, ok, detail in self.checks if not ok]
        return judged(failed, "recovery incomplete")


def journal_of(run: Run) -> Path:
    """The journal of the incident named by --incident, in the report folder — sealed in this
    run's journal (its sha256), never written again: evidence of what happened to it."""
    incident = run.incident.options.incident
    if not incident or "/" in incident or incident.startswith("."):
        raise UserError("--incident=ID is required: the id of the folder in the report directory")
    path = run.incident.options.report_dir / incident / "journal.jsonl"
    if not path.is_file():
        raise UserError(f"no journal at {path}: check --incident and --report-dir")
    run.incident.journal.seal(path, incident)
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
    original = recovered_by(named) or str(run.incident.options.incident)
    if original != run.incident.options.incident:
        run.incident.say(
            f"§9: incident {run.incident.options.incident} was itself a §9 "
            f"recovery of incident {original}: recovering {original}"
        )
    run.incident.journal.write("recovering", incident=original, asked=run.incident.options.incident)
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
    original = next(e["incident"] for e in run.incident.journal.events("recovering"))
    path = run.incident.options.report_dir / original / "journal.jsonl"
    if not path.is_file():
        raise UserError(f"no journal at {path}: check --incident and --report-dir")
    run.incident.journal.seal(path, original)
    interrupted = []
    for other in sorted(run.incident.options.report_dir.glob("*/journal.jsonl")):
        if other.parent.name == run.incident.id or recovered_by(other) != original:
            continue
        events = list(read_journal(other))
        if not any(e["event"] == "outcome" for e in events):
            run.incident.journal.seal(other, other.parent.name)
            interrupted.append(events)
    return Earlier(list(read_journal(path)), interrupted)


def recover(
    run: Run, events: list[dict[str, Any]], interrupted: list[list[dict[str, Any]]] | None = None
) -> Recovery:
    """The pre-rollback state put back from the journal's `events`, then observed. `interrupted`:
    the journals of earlier §9 runs of the same incident that died (their commands are stopped
    and their private files removed; what they did is redone from `events`)."""
    with run.site.acting_for("9.1"):  # §9's commands are journaled under Paso 9.1
        return _recover(run, events, interrupted or [])


def _recover(
    run: Run, events: list[dict[str, Any]], interrupted: list[list[dict[str, Any]]]
) -> Recovery:
    facts = timeline.facts(events)
    changes = begun(events)
    result = Recovery()
    run.incident.journal.write("recovery_started", operations=[change.KEY for change in changes])

    def act(name: str, action: Callable[[], object]) -> None:
        run.incident.say(f"§9 recovery: {name} …")
        try:
            action()
            result.actions.append((name, "ok"))
        except (StepFailed, UserError) as exc:
            result.actions.append((name, str(exc)))
        run.incident.journal.write("recovery_action", action=name, result=result.actions[-1][1])

    journals = [events, *interrupted]  # a dead run's last command may still run: stop it first
    unfinished = [journal for journal in journals if dead_commands.unfinished(journal)]
    if unfinished:
        act("stop the dead run's unfinished commands", lambda: _stop_dead(run, unfinished))
        if result.actions[-1][1] != "ok":  # acting beside a live command would race it
            run.incident.journal.write(
                "recovery_finished", ok=False, actions=result.actions, checks=[]
            )
            return result
    before = undo.ran_before(changes, run.site.env.services.app)
    if before:  # Paso 2.2 began: whatever runs now may run the target's code — stop it first
        hosts = sorted({key.rsplit(" ", 1)[0] for key in before})
        act(
            "stop the app services before putting anything back",
            lambda: undo.stop_services(run, hosts),
        )
    undoing = undo.Undoing(run, facts)
    for step in undo.plan(undoing, changes):
        act(step.name, step.action)
    for journal in journals:
        for spec, error in remove_private_files(run, journal).items():
            result.actions.append((f"remove the dead run's private files on {spec}", error or "ok"))
    restored.check(run, result.checks, facts, before, undoing.restarted)
    run.incident.journal.write(
        "recovery_finished", ok=result.ok, actions=result.actions, checks=result.checks
    )
    return result


def _stop_dead(run: Run, journals: list[list[dict[str, Any]]]) -> None:
    for journal in journals:
        dead_commands.stop(run, journal)


def _remove_dead_folder(host: Host, folder: str, app: bool) -> str | None:
    """Another (dead) run's private folder removed here, as its journal recorded it, by a
    journaled command (as app.user for the app user's folder); the error. Only a folder of
    `~/.rollbook/runs/` (or the app user's `rollbook-run-NAME`) is ever removed."""
    if not PRIVATE_FOLDER.fullmatch(folder) or ".." in folder.split("/"):
        return f"{folder} is not a run's private folder (…/.rollbook/runs/NAME): left alone"
    out = host.run(["rm", "-rf", "--", folder], mutating=True, check=False, timeout=60, app=app)
    return None if out.ok else host.describe_failure(out)


def remove_private_files(run: Run, events: list[dict[str, Any]]) -> dict[str, str | None]:
    """Another (dead) incident's private folders (its pgpass files) removed from its hosts:
    {host: error or None}. This run's own folders are removed when it closes."""
    started = next((e for e in events if e["event"] == "run_started"), {})
    incident = started.get("incident")
    if not incident or incident == run.incident.id:
        return {}
    done: dict[str, str | None] = {}
    folders = {
        (e["host"], posixpath.dirname(e["path"]), bool(e.get("app")))
        for e in events
        if e["event"] == "private_file"
    }
    for spec, folder, app in sorted(folders):
        error = _remove_dead_folder(run.site.host(spec), folder, app)
        done[spec] = "; ".join(e for e in (done.get(spec), error) if e) or None
        run.incident.journal.write(
            "private_files_removed", host=spec, incident=incident, path=folder, error=error
        )
    return done
