"""Who writes the release ledger: a whole validation run that passed (--record-release), and a
rollback (the release it left, the release Etapa 6 validated or failed)."""

from __future__ import annotations

from rollbook.actions import ledger
from rollbook.actions.release import FAILED, ROLLED_BACK_FROM, VALIDATED
from rollbook.core.errors import StepFailed
from rollbook.core.run import Run
from rollbook.core.state import CodeBefore, Deployed, Target


def _label(facts: dict[str, object]) -> str:
    return str(facts.get("tag") or str(facts.get("commit", ""))[:12])


def record_validation(run: Run) -> tuple[bool, str]:
    """validation.feature --record-release: the deployed release, validated (its one write)."""
    try:
        facts = ledger.describe_deployed(run.site)
        evidence = f"validation run {run.incident.id}"
        entry = ledger.entry(run.incident.options.operator, VALIDATED, facts, evidence=evidence)
        ledger.append(run.incident, run.site, entry, declared=True)
    except StepFailed as exc:
        return False, f"registro de versiones NO actualizado: {exc}"
    return True, (
        f"registro de versiones: {_label(facts)} anotada como validada en "
        f"{run.site.env.ledger_file()}"
    )


def record_rollback(run: Run) -> list[str]:
    """After ROLLBACK COMPLETADO: the release rolled back from, and the target Etapa 6 validated."""
    deployed = run.records.need(Deployed)
    code = run.records.known(CodeBefore)
    first_host = next(iter(code.hosts.values() if code else []), {})
    left = {"tag": deployed.tag, "commit": deployed.commit, "packages": first_host.get("freeze")}
    operator, incident = run.incident.options.operator, run.incident.id
    try:
        entry = ledger.entry(operator, ROLLED_BACK_FROM, left, incident=incident)
        ledger.append(run.incident, run.site, entry)
        facts = ledger.describe_deployed(run.site)
        entry = ledger.entry(
            operator, VALIDATED, facts, incident=incident, evidence="Etapa 6 of the rollback"
        )
        ledger.append(run.incident, run.site, entry)
    except StepFailed as exc:  # closing_actions.isolated journals and shows it, with the fix
        fix = "record the release with `pytest features/validation.feature --record-release`"
        raise StepFailed(f"registro de versiones NO actualizado ({exc}): {fix}") from None
    return [f"registro de versiones: {_label(left)} revertida, {_label(facts)} validada"]


def record_failed_target(run: Run, paso: str) -> list[str]:
    """Etapa 6 failed at the target: it is never chosen by default again."""
    target = run.records.need(Target)
    failed = {"tag": target.tag, "commit": target.commit}
    try:
        entry = ledger.entry(
            run.incident.options.operator,
            FAILED,
            failed,
            incident=run.incident.id,
            evidence=f"Paso {paso} of the rollback",
        )
        ledger.append(run.incident, run.site, entry)
    except StepFailed as exc:  # closing_actions.isolated journals and shows it
        raise StepFailed(f"registro de versiones NO actualizado ({exc})") from None
    return [
        f"registro de versiones: {_label(failed)} marcada como fallida (failed): "
        f"el Paso {paso} falló en ella"
    ]
