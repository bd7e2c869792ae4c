"""The one outcome of a run, decided from the journal (DESIGN.md, Outcomes), and §9 if needed."""

from __future__ import annotations

from rollbook.actions.decision import ESCALATE
from rollbook.core.executor import Mode
from rollbook.core.incident import Result
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.governance.notify import ESCALATION, NO_BACKUP, UNRECOVERED, announce
from rollbook.lifecycle import closing_actions, lock, recovery, release_record
from rollbook.record import closing, plan

COMPLETED = "ROLLBACK COMPLETADO"
ABORTED = "ABORTADO — SIN CAMBIOS"
RESTORED = "FALLIDO — ESTADO PREVIO RESTAURADO"
MANUAL = "FALLIDO — INTERVENCION MANUAL"
EVALUATED = "EVALUACION COMPLETADA — SIN CAMBIOS"
RECOVERED = "ESTADO PREVIO RESTAURADO"  # the manual §9 (rollback_of_rollback.feature) succeeded
PLAN = "PLAN — SIN CAMBIOS"  # --dry-run
VERIFIED = "VERIFICACION OK — SIN CAMBIOS"  # validation / prerequisites checklists
NOT_VERIFIED = "VERIFICACION FALLIDA — SIN CAMBIOS"
LEDGER = "registro de versiones"  # the closing action that writes the release ledger


def first_failure(run: Run) -> str | None:
    for event in run.incident.journal.events("paso_finished"):
        if event["status"] == "failed":
            return str(event["paso"])
    return None


def passed(run: Run, paso: str) -> bool:
    """Passed in this run, or in the interrupted incident this run resumed."""
    resumed = {p for e in run.incident.journal.events("resumed") for p in e["skipped"]}
    return paso in resumed or any(
        e["paso"] == paso and e["status"] == "passed" and e["phase"] == "call"
        for e in run.incident.journal.events("paso_finished")
    )


def finish(run: Run) -> Result:
    failed = first_failure(run)
    events = list(read_journal(run.incident.journal.path))
    changed = any(
        e["event"] == "intent" and e.get("paso") != "lock" and not e.get("declared") for e in events
    )
    if run.site.mode is Mode.DRY_RUN:
        files = plan.write_plan(run)
        lines = [f"plan: {files[1]}", f"plan (json): {files[0]}"]
        if failed:
            lines.append(f"falló el Paso {failed}: el rollback se detendría ahí")
        result = Result(PLAN if failed is None else ABORTED, 0 if failed is None else 1, lines)
    elif run.incident.checklist:
        ok = failed is None
        text = (
            "todas las verificaciones pasaron"
            if ok
            else f"falló: {failed} (cada verificación se informa arriba)"
        )
        checked = [text]
        if ok and run.incident.options.record_release:  # asked for and not written: not a success
            ok, line = release_record.record_validation(run)
            checked.append(line)
        result = Result(VERIFIED if ok else NOT_VERIFIED, 0 if ok else 1, checked)
    elif any(e["event"] == "recovery_started" for e in events):  # rollback_of_rollback.feature
        ok = failed is None and passed(run, "9.1")
        text = (
            "el estado previo al rollback está restaurado y verificado"
            if ok
            else "la recuperación falló"
        )
        result = Result(RECOVERED if ok else MANUAL, 0 if ok else 1, [text])
    elif failed is None and passed(run, "6.1"):
        written = closing_actions.isolated(run, LEDGER, lambda: release_record.record_rollback(run))
        result = Result(COMPLETED, 0, ["versión objetivo en marcha y validada", *(written or [])])
    elif not changed:
        why = f"falló el Paso {failed} antes de cualquier cambio" if failed else "no se cambió nada"
        result = Result(ABORTED if failed else EVALUATED, 1 if failed else 0, [why])
    else:
        failed_target = (
            closing_actions.isolated(
                run, LEDGER, lambda: release_record.record_failed_target(run, failed)
            )
            if failed and failed.startswith("6.") and run.site.mode is Mode.EXECUTE
            else []
        )
        result = _recover(run, failed, events)
        result = Result(result.name, result.exit_code, [*result.lines, *(failed_target or [])])
    lines = [*result.lines, f"journal: {run.incident.journal.path}"]
    if run.incident.probe is not None:  # its view ends here, for the markdown and report.html
        run.incident.probe.stop()
    if run.site.mode is Mode.EXECUTE and not run.incident.checklist:
        said = [*result.lines, *closing_actions.closing_failures(run)]
        report = closing_actions.isolated(
            run,
            "reporte del incidente",
            lambda: closing.write_incident_report(run, result.name, said),
        )
        if report is not None:
            lines.insert(-1, f"reporte del incidente: {report}")
    no_backup = _no_valid_backup(events)
    if result.exit_code != 0 and (changed or no_backup):  # Anexo C escalates with no change too
        said = [f"Anexo C: no hay backup válido — {ESCALATE}"] if no_backup else []
        closing_actions.isolated(
            run,
            "aviso de escalamiento",
            lambda: announce(
                run,
                "escalation",
                [f"ROLLBACK {result.name} - {run.site.env.name.upper()}", *said, *result.lines],
                roles=NO_BACKUP
                if no_backup
                else UNRECOVERED
                if result.name == MANUAL
                else ESCALATION,
            ),
        )
    if run.site.mode is Mode.EXECUTE and not run.incident.checklist:
        if result.name == MANUAL:  # the next run must find this incident, not a free environment
            lines.append(f"el ambiente queda bloqueado por el incidente {run.incident.id}")
        else:
            closing_actions.isolated(
                run, "liberación del bloqueo", lambda: lock.release_if_mine(run)
            )
    lines += closing_actions.closing_failures(run)
    final = Result(result.name, result.exit_code, lines)
    run.incident.journal.write(
        "outcome", outcome=final.name, exit_code=final.exit_code, lines=final.lines
    )
    run.incident.result = final
    return final


def _no_valid_backup(events: list[dict]) -> bool:
    """Paso 1.3 found no valid backup: Anexo C's branch that escalates to the DBA / CTO."""
    return any(
        e["event"] == "paso_finished"
        and e["status"] == "failed"
        and e["paso"] == "1.3"
        and "no valid backup" in str(e.get("detail"))
        for e in events
    )


def _recover(run: Run, failed: str | None, events: list[dict]) -> Result:
    why = (
        f"falló el Paso {failed} después de cambiar" if failed else "el rollback se detuvo a medias"
    )
    if run.site.mode is not Mode.EXECUTE:
        return Result(ABORTED, 1, [why])
    if not run.incident.options.auto_recover:
        run.incident.journal.write("recovery_skipped", reason="--no-auto-recover")
        off = "la recuperación automática está desactivada (--no-auto-recover)"
        return Result(MANUAL, 1, [why, off, recovery.ESCALATION])
    done = recovery.recover(run, events)
    details = [f"§9 acción: {name}: {res}" for name, res in done.actions] + [
        f"§9 comprobación: {name}: {'OK' if ok else 'FALLÓ'} ({detail})"
        for name, ok, detail in done.checks
    ]
    if done.ok:
        return Result(RESTORED, 1, [why, *details, recovery.ESCALATION])
    return Result(MANUAL, 1, [why, *details, recovery.ESCALATION])
