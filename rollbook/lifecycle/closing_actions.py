"""Etapa 7's actions and the closing around them: Paso 7.2's completion notice, Paso 7.3's
follow-ups recorded as open items, and each closing action run apart (a failure journaled and
said, never stopping the others nor the record). rollbook.record.closing renders what they say."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from rollbook.core import timeline
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.core.state import Target
from rollbook.governance.notify import CLOSING, announce
from rollbook.record import closing

T = TypeVar("T")


def isolated(run: Run, what: str, action: Callable[[], T]) -> T | None:
    """One closing action (ledger, markdown, escalation, log copy): a failure is journaled and
    shown, and never stops the others nor the record itself (report.html, SHA256SUMS, the
    signature). None when it failed."""
    try:
        return action()
    except Exception as exc:
        run.incident.journal.write(
            "closing_failed", action=what, error=f"{type(exc).__name__}: {exc}"
        )
        run.incident.say(f"WARNING: cierre: {what} FALLÓ ({type(exc).__name__}: {exc})")
        return None


def closing_failures(run: Run) -> list[str]:
    """The closing actions that failed, as the outcome's lines say them."""
    failed = run.incident.journal.events("closing_failed")
    return [f"cierre: {e['action']} FALLÓ ({e['error']})" for e in failed]


def announce_completion(run: Run) -> str:
    """Paso 7.2: ROLLBACK COMPLETADO in the appropriate channels."""
    events = list(read_journal(run.incident.journal.path))
    target = run.records.need(Target)
    total = timeline.seconds_between(events[0]["ts"], datetime.now(UTC).isoformat())
    return announce(
        run,
        "end",
        [
            f"ROLLBACK COMPLETADO - {run.site.env.name.upper()}",
            f"Hora finalización: {datetime.now(UTC):%H:%M} UTC",
            f"Duración: {closing.minutes(total)}",
            f"Versión restaurada: {target.name}",
            f"Estado actual: {closing.stable(run, events)}",
            "Validación: OK",
            f"Reporte: {closing.report_path(run)}" + closing.shared_copy(run),
            "Próximos pasos: investigación causa raíz",
            *[f"- {closing.follow_up_line(item)}" for item in closing.follow_ups(run)],
        ],
        roles=CLOSING,
    )


def update_incident(run: Run) -> list[str]:
    """Paso 7.3: the follow-ups left to people, recorded as open items."""
    items = closing.follow_ups(run)
    run.incident.note("follow_ups", items=items)
    return items
