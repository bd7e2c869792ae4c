"""Etapa 1's record: the incident documented with its decision (Paso 1.1) and the start
announced (Paso 1.4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from rollbook.actions import evaluation, symptoms
from rollbook.actions.database.backups import BackupRefused
from rollbook.actions.decision import decide
from rollbook.checks import prerequisites
from rollbook.core.errors import StepFailed
from rollbook.core.executor import Mode
from rollbook.core.run import Run
from rollbook.core.state import ChosenBackup, SymptomsObserved, Target
from rollbook.core.verdict import Verdict, judged
from rollbook.governance import approval, signing
from rollbook.governance.notify import STARTING, announce


def record_incident(run: Run) -> dict[str, object]:
    """Paso 1.1: symptoms, severity, impact and the decision, with who approved it."""
    opts = run.incident.options
    missing = [
        name
        for name, value in (("--reason", opts.reason), ("--severity", opts.severity))
        if not value
    ]
    if missing:
        raise StepFailed(f"the incident needs {' and '.join(missing)}: say what was observed")
    key = opts.signing_key or (run.site.env.signing.key if run.site.env.signing else None)
    if key is not None:  # a record that cannot be signed is refused before any change
        problem = signing.usable_key(key)
        if problem:
            raise StepFailed(f"the incident record cannot be signed: {problem}")
    seen = symptoms.observe(
        run.incident, run.site, run.records
    )  # beside what the operator declares
    approved = approval.establish(run)
    prerequisites.checks_configured(run)
    approver = approved.get("approver") or (
        "(el plan, para aprobar)" if approved["status"] == approval.PENDING else None
    )
    # the backup branch is Paso 1.3's to answer: provisionally taken here, confirmed there
    tree = decide(
        opts.severity,
        opts.users_affected,
        valid_backup=True,
        approved_by=approver,
        contradicted=bool(seen.contradiction),
    )
    run.incident.note(
        "decision_tree",
        branch=tree.branch,
        proceed=tree.proceed,
        reason=tree.reason,
        backup=BACKUP_PENDING,
        approver=approver,
    )
    if not tree.proceed:
        raise StepFailed(f"Anexo C decision tree: {tree.branch} — {tree.reason}")
    decision = (
        "ROLLBACK INICIADO — aprobación pendiente (emergencia crítica, §11.1.1)"
        if approved["status"] == approval.PENDING and run.site.mode is not Mode.DRY_RUN
        else f"ROLLBACK APROBADO por {approved['approver']}"
        if approved.get("approver")
        else f"ROLLBACK sin aprobación ({approved['status']} en {run.site.env.name})"
    )
    entry = run.incident.note(
        "incident",
        id=run.incident.id,
        symptoms=opts.reason,
        severity=opts.severity,
        impact=opts.impact or "no indicado",
        users_affected=opts.users_affected,
        tree=tree.branch,
        decision=decision,
        approved_by=approved.get("approver"),
        approval=approval.summary(approved),
        operator=opts.operator,
    )
    run.incident.say(
        f"## Incidente: {run.incident.id}\n- Síntomas declarados: {opts.reason}\n"
        f"- Severidad: {opts.severity}\n- Impacto: {entry['impact']}\n"
        f"- Decisión: {entry['decision']}"
    )
    return entry


def decision_kept(run: Run, incident: Mapping[str, object]) -> Verdict:
    """Paso 1.1: the decision the run took is the one its journal holds, and the approval it
    names covers what the environment demands."""
    facts = run.incident.journal.facts()
    kept = (facts.get("incident") or {}).get("decision")
    problems = []
    if kept != incident["decision"]:
        problems.append(f"the journal holds {kept!r} as the decision, not {incident['decision']!r}")
    uncovered = approval.uncovered(run, facts.get("approval"))
    if uncovered:
        problems.append(uncovered)
    return judged(problems)


BACKUP_PENDING = "por comprobar en el Paso 1.3"


def verify_backup(run: Run) -> ChosenBackup:
    """Paso 1.3 (rollbook.actions.evaluation.verify_backup), then Anexo C's tree recorded with
    its verdict: the backup found valid, or none (Escalar a DBA/CTO)."""
    try:
        backup = evaluation.verify_backup(run.incident, run.site, run.records)
    except BackupRefused:
        tree_after_backup(run, None)
        raise
    tree_after_backup(run, backup.path)
    return backup


def tree_after_backup(run: Run, backup: str | None) -> None:
    """Anexo C's last question answered by Paso 1.3's verdict (`backup`: the valid backup's
    path, None when there is none): the tree recorded again with what was observed."""
    opts, facts = run.incident.options, run.incident.journal.facts()
    approver = facts.get("decision_tree", {}).get("approver")
    seen = SymptomsObserved.read(facts)
    contradicted = bool(seen and seen.contradiction)
    tree = decide(opts.severity, opts.users_affected, backup is not None, approver, contradicted)
    seen = f"válido: {backup} (Paso 1.3)" if backup else "ninguno válido (Paso 1.3)"
    run.incident.note(
        "decision_tree",
        branch=tree.branch,
        proceed=tree.proceed,
        reason=tree.reason,
        backup=seen,
        approver=approver,
    )


def announce_start(run: Run) -> str:
    """Paso 1.4: ROLLBACK INICIADO in the incidents channel."""
    target = run.records.need(Target)
    return announce(
        run,
        "start",
        [
            f"ROLLBACK INICIADO - {run.site.env.name.upper()}",
            f"Hora: {datetime.now(UTC):%H:%M} UTC",
            f"Razón: {run.incident.options.reason}",
            f"Versión objetivo: {target.name}",
            "ETA: 10 minutos",
            f"Ejecutado por: {run.incident.options.operator}",
            f"Incidente: {run.incident.id}",
        ],
        roles=STARTING,
    )
