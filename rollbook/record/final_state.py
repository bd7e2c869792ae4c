"""What the record states is the final state: after §9, what runs is the pre-rollback release
with its data, not the target; the markdown and report.html say so, and name the failing Paso,
its error and the recovery's checks. A §9 run by hand names the incident it undid."""

from __future__ import annotations

from typing import Any

from rollbook.core import timeline
from rollbook.core.journal import read_journal
from rollbook.core.operations import DatabaseDropped, DatabaseSwapped, MigrationsReversing, begun
from rollbook.core.run import Run
from rollbook.core.state import Deployed, Target

RESTORED, UNKNOWN = "restored", "unknown"  # after §9: state put back and checked / not known
DATA_CHECKS = (
    "database content equals the pre-rollback state",
    "the database is the pre-rollback one (swap)",
)
NOT_APPLICABLE = "no aplica: §9 devolvió el estado previo al rollback"
UNCHANGED = "no aplica: no se cambió nada (no hubo rollback)"


def recovery_state(events: list[dict[str, Any]]) -> str | None:
    """RESTORED when §9 put the pre-rollback state back and checked it, UNKNOWN when §9 failed
    or was off after a change, None when §9 did not run."""
    finished = [e for e in events if e["event"] == "recovery_finished"]
    if finished:
        return RESTORED if finished[-1]["ok"] else UNKNOWN
    if any(e["event"] == "recovery_skipped" for e in events):
        return UNKNOWN
    return None


def undone_events(run: Run) -> list[dict[str, Any]]:
    """§9 by hand: the journal of the incident it undoes (its severity, releases, backups)."""
    incident = run.incident.options.incident
    path = run.incident.options.report_dir / str(incident) / "journal.jsonl"
    if not incident or path == run.incident.journal.path or not path.is_file():
        return []
    return list(read_journal(path))


def incident_facts(run: Run, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """This run's facts over those of the incident a §9 by hand undoes."""
    return {**timeline.facts(undone_events(run)), **timeline.facts(events)}


def _release(release: Deployed | Target | None) -> str:
    if not release:
        return "n/d"
    return f"{release.tag or '(sin tag)'} ({release.commit[:12]})"


def versions(facts: dict[str, dict[str, Any]], events: list[dict[str, Any]]) -> list[str]:
    """The Versiones lines: which release runs now, by how the run ended."""
    deployed, target = _release(Deployed.read(facts)), _release(Target.read(facts))
    state = recovery_state(events)
    if state == RESTORED:
        return [
            f"Versión defectuosa: {deployed}",
            f"Versión en ejecución: {deployed} (estado previo restaurado por §9)",
            f"Versión objetivo (no alcanzada): {target}",
        ]
    if state == UNKNOWN:
        return [
            f"Versión defectuosa: {deployed}",
            "Versión en ejecución: desconocida — la recuperación no se completó "
            "(intervención manual)",
            f"Versión objetivo: {target}",
        ]
    if not begun(events):  # nothing was changed (aborted, evaluated, planned): as it was
        return [
            f"Versión defectuosa: {deployed}",
            f"Versión en ejecución: {deployed} (sin cambios)",
            f"Versión objetivo (no aplicada): {target}",
        ]
    return [f"Versión defectuosa: {deployed}", f"Versión restaurada: {target}"]


def data_check(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """§9's check that the database holds the pre-rollback state, if it ran."""
    return next(
        (e for e in events if e["event"] == "recovery_check" and e["check"] in DATA_CHECKS), None
    )


CHANGES_DATA = (DatabaseDropped, DatabaseSwapped, MigrationsReversing)


def data_loss(events: list[dict[str, Any]], lost: int | None) -> tuple[str, bool | None]:
    """The rows lost as the run ended, and whether that is none: after §9 the restore's count
    no longer holds — the pre-rollback data is back when §9's check says so."""
    state = recovery_state(events)
    if state is None:
        return ("n/d" if lost is None else f"{lost} filas"), (None if lost is None else lost == 0)
    check = data_check(events)
    changed = any(isinstance(change, CHANGES_DATA) for change in begun(events))
    if check is not None and check["ok"]:
        counted = f" (la restauración había dejado fuera {lost} filas)" if lost else ""
        return f"0 filas: §9 devolvió los datos previos al rollback, verificado{counted}", True
    if check is None and not changed:
        return "0 filas: la base de datos no se modificó", True
    return "desconocido: la base de datos no volvió al estado previo verificado", None


def failure_lines(events: list[dict[str, Any]]) -> list[str]:
    """The failing Paso, its error, §9's actions and checks (empty when nothing failed)."""
    failed = next(
        (e for e in events if e["event"] == "paso_finished" and e["status"] == "failed"), None
    )
    if failed is None:
        return []
    lines = [f"- Paso que falló: {failed['paso']} — {failed.get('detail') or 'sin detalle'}"]
    for event in events:
        if event["event"] == "recovery_action":
            lines.append(f"- §9 acción: {event['action']}: {event['result']}")
        elif event["event"] == "recovery_check":
            mark = "OK" if event["ok"] else "FALLÓ"
            lines.append(f"- §9 comprobación: {event['check']}: {mark} ({event['detail']})")
        elif event["event"] == "recovery_skipped":
            lines.append(f"- §9 no se ejecutó: {event['reason']}")
    return lines
