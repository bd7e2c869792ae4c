"""Etapa 7 — Documentación y cierre; §9 manual (rollback_of_rollback.feature)."""

from pathlib import Path

import pytest
from pytest_bdd import given, then, when

from rollbook.actions.database import row_kinds
from rollbook.checks import criteria
from rollbook.core.run import Run
from rollbook.lifecycle import closing_actions, recovery
from rollbook.record import closing
from steps.verify import delivery


@when("se crea el reporte de rollback", target_fixture="report")
def write_report(run: Run) -> Path:
    row_kinds.classify(run.incident, run.site, run.records)  # of the rows lost, if any
    return closing.write_incident_report(run)


@then("el reporte ROLLBACK-YYYY-MM-DD-HHMM.md existe con el contenido mínimo")
def report_complete(report: Path) -> None:
    verdict = criteria.sections_present(report, closing.MINIMUM_SECTIONS)
    assert not verdict.problems, verdict.text


@when("se notifica la resolución")
def notify_end(run: Run) -> None:
    closing_actions.announce_completion(run)


@then("el mensaje de finalización se entrega en cada canal del ambiente")
def end_delivered(run: Run) -> None:
    delivery(run, "end")


@when("se registran las acciones pendientes del incidente", target_fixture="follow_ups")
def follow_ups(run: Run) -> list[dict[str, object]]:
    return closing_actions.update_incident(run)


@then("las acciones de cierre quedan listadas para sus responsables")
def follow_ups_listed(run: Run, follow_ups: list[dict[str, object]]) -> None:
    verdict = criteria.follow_ups_owned(follow_ups)
    assert not verdict.problems, verdict.text
    nobody = closing.orphans(follow_ups)
    if nobody:  # after a rollback that worked: said loudly, never a reason to undo it (§9)
        pytest.skip(f"SIN RESPONSABLE en people de {run.site.env.name}: " + "; ".join(nobody))


@given("el journal del incidente indicado con --incident", target_fixture="earlier")
def earlier_journal(run: Run) -> recovery.Earlier:
    return recovery.journals_of(run)


@when("se deshace lo que ese journal registra, en orden inverso", target_fixture="recovered")
def undo(run: Run, earlier: recovery.Earlier) -> recovery.Recovery:
    return recovery.recover(run, earlier.events, earlier.interrupted)


@then("el estado previo al rollback queda restaurado y verificado")
def recovered_ok(recovered: recovery.Recovery) -> None:
    verdict = recovered.verdict()
    assert not verdict.problems, verdict.text
