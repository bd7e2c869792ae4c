"""--resume: continue an interrupted rollback forward, where that is safe.

Safe means the runner died between Pasos, or inside a Paso that had not run any mutating command
yet: the Pasos that passed are not run again, and everything the interrupted run learnt and changed
(its facts, intents and operations) is carried into this run's journal, so a later failure still
recovers all of it (§9). A run that died in the middle of a change (e.g. during the restore) is
not resumed: restore it with rollback_of_rollback.feature instead.
"""

from __future__ import annotations

from typing import Any

from rollbook.core import timeline
from rollbook.core.errors import UserError
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.lifecycle.recovery import journal_of, remove_private_files


def passed_pasos(events: list[dict[str, Any]]) -> set[str]:
    return {p for p, e in timeline.paso_results(events).items() if e["status"] == "passed"}


def interrupted_paso(events: list[dict[str, Any]]) -> str | None:
    finished = {e["paso"] for e in events if e["event"] == "paso_finished"}
    started = [e["paso"] for e in events if e["event"] == "paso_started"]
    return next((p for p in reversed(started) if p not in finished), None)


def load(run: Run) -> set[str]:
    """Carry the interrupted incident into this run; return the Pasos not to run again."""
    events = list(read_journal(journal_of(run)))
    if any(e["event"] == "outcome" for e in events):
        raise UserError(
            f"incident {run.incident.options.incident} finished: there is nothing to resume"
        )
    paso = interrupted_paso(events)
    if paso is not None and any(e["event"] == "intent" and e["paso"] == paso for e in events):
        raise UserError(
            f"incident {run.incident.options.incident} died in the middle of Paso {paso}, after "
            "changing things: it cannot be resumed safely. Restore it with pytest "
            f"features/rollback_of_rollback.feature --env={run.site.env.name} "
            f"--incident={run.incident.options.incident}"
        )
    for event in events:
        if event["event"] in ("fact", "intent", "operation", "operation_done"):
            run.records.adopt(event, str(run.incident.options.incident))
    remove_private_files(run, events)
    done = passed_pasos(events)
    run.incident.journal.write(
        "resumed", incident=run.incident.options.incident, skipped=sorted(done)
    )
    return done
