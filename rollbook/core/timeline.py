"""Facts, milestones and durations read back from a journal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollbook.core.state import SymptomsObserved

# fact key → the procedure's timeline line (Paso 7.1)
MILESTONES = [
    ("incident", "Rollback aprobado"),
    ("services_stopped", "Servicios detenidos"),
    (
        "database_reversed",
        "DB: migraciones de la versión desplegada revertidas (Paso 3.0), backup no restaurado",
    ),
    ("code_checked_out", "Código revertido"),
    ("database_restored", "DB restaurada"),
    ("services_started", "Servicios reiniciados"),
    ("health", "Health check 200"),
    ("log_watch", "Validación completada"),
]


def facts(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last value of every fact, with the time it was recorded."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["event"] == "fact":
            found[event["key"]] = {**event["value"], "_ts": event["ts"]}
    return found


def first_fact_time(events: list[dict[str, Any]], key: str) -> str | None:
    return next((e["ts"] for e in events if e["event"] == "fact" and e["key"] == key), None)


def problem_time(events: list[dict[str, Any]]) -> str | None:
    """When the problem shows: the first error line Paso 1.1 found in the running release's
    logs, when it is before the run's start (after it: the run's own requests may have caused
    it); None otherwise."""
    observed = SymptomsObserved.read(facts(events))
    first = observed.first_error if observed else None
    return first if events and first and first < events[0]["ts"] else None


def milestones(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The record's timeline. The problem is dated by problem_time, else by the run's start."""
    if not events:
        return []
    first = problem_time(events)
    if first:
        out = [
            (first, "Problema detectado (primer error en los logs, observado en el Paso 1.1)"),
            (events[0]["ts"], "Inicio de rollbook"),
        ]
    else:
        out = [(events[0]["ts"], "Problema detectado (inicio de rollbook)")]
    for key, label in MILESTONES:
        ts = first_fact_time(events, key)
        if ts is not None:
            out.append((ts, label))
    return out


def seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def services_stop_time(events: list[dict[str, Any]]) -> str | None:
    """When the services begin to go down: Paso 2.2's first stop command (a §9 run by hand:
    its own first change, journaled under Paso 9.1)."""
    return next(
        (e["ts"] for e in events if e["event"] == "intent" and e.get("paso") == "2.2"),
        first_fact_time(events, "services_stopped")
        or next(
            (e["ts"] for e in events if e["event"] == "intent" and e.get("paso") == "9.1"), None
        ),
    )


def downtime(events: list[dict[str, Any]]) -> float | None:
    """The site's outage as the run caused it: from the first stop command of Paso 2.2 (when the
    services begin to go down, not when they are down) to the first health 200 after it — or,
    after a §9 that put the pre-rollback state back, to the last URL it saw answer as before the
    run. One definition for report.html, the markdown and the benchmarks."""
    return seconds_between(services_stop_time(events), back_time(events))


def back_time(events: list[dict[str, Any]]) -> str | None:
    """When the site served again as the run left it: after a §9 that succeeded, its last URL
    check (every URL answers as before the run; §9's end when it checked none); else the first
    health 200."""
    finished = [e for e in events if e["event"] == "recovery_finished"]
    if finished and finished[-1]["ok"]:
        answered = [
            e["ts"]
            for e in events
            if e["event"] == "recovery_check" and e["ok"] and " answers " in str(e["check"])
        ]
        return answered[-1] if answered else finished[-1]["ts"]
    return health_back_time(events)


def health_back_time(events: list[dict[str, Any]]) -> str | None:
    """When the run's health check first answered 200 (the end of its downtime)."""
    return next(
        (
            e["ts"]
            for e in events
            if e["event"] == "fact" and e["key"] == "health" and e["value"].get("status") == 200
        ),
        None,
    )


def paso_results(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["event"] == "paso_finished":
            results[str(event["paso"])] = event
    return results
