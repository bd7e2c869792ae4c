"""Etapa 1 — Evaluación y decisión."""

from pytest_bdd import given, then, when

from rollbook.actions import dependencies, evaluation
from rollbook.actions.database import app_database, database_path, migration_plan, trial_restore
from rollbook.checks import criteria, validation
from rollbook.core.run import Run
from rollbook.core.state import ChosenBackup, Deployed, Target, TrialRestore
from rollbook.governance import incident_entry
from steps.verify import delivery


@given("el ambiente del incidente cargado")
def environment_loaded(run: Run) -> None:
    """Every scenario's background; a validation run's first opens §8.2's log window."""
    validation.open_log_window(run)


@given("los síntomas, la severidad y el impacto del incidente")
def incident_inputs(run: Run) -> None:
    pass  # given on the command line: --reason, --severity, --impact, --approved-by


@when("se documenta el incidente", target_fixture="incident")
def document_incident(run: Run) -> dict[str, object]:
    return incident_entry.record_incident(run)


@then("la decisión queda registrada con su aprobador")
def decision_recorded(run: Run, incident: dict[str, object]) -> None:
    verdict = incident_entry.decision_kept(run, incident)
    assert not verdict.problems, verdict.text


@when("se confirma que la aplicación usa la base de datos del ambiente")
def app_uses_the_database(run: Run) -> None:
    app_database.confirm(run.incident, run.site, run.records)


@when("se identifica el último deployment estable", target_fixture="target")
def find_target(run: Run) -> Target:
    return evaluation.identify_target(run.incident, run.site, run.records)


@when("se clasifican las migraciones entre la versión desplegada y la objetivo")
def classify_migrations(run: Run) -> None:
    migration_plan.classify(run.incident, run.site, run.records)
    database_path.choose(run.incident, run.site, run.records)


@when(
    "se resuelve sin instalar la instalación de dependencias de la versión objetivo",
    target_fixture="resolved",
)
def resolve_target(run: Run) -> dict[str, dict[str, object]]:
    return dependencies.resolve_target(run.incident, run.site, run.records)


@then("pip puede instalar las dependencias de la versión objetivo en cada servidor")
def target_resolves(resolved: dict[str, dict[str, object]]) -> None:
    verdict = criteria.refused(resolved)
    assert not verdict.problems, verdict.text


@then("el tag de versión estable queda identificado")
def target_identified(run: Run, target: Target) -> None:
    assert target.tag and target.tag != run.records.need(Deployed).tag


@when("se identifica el backup correspondiente a la versión estable", target_fixture="backup")
def find_backup(run: Run) -> ChosenBackup:
    return incident_entry.verify_backup(run)


@when("se prueba la restauración del backup si el ambiente lo pide")
def trial(run: Run) -> None:
    trial_restore.trial_restore(run.incident, run.site, run.records)


@then("el backup queda identificado y verificado")
def backup_verified(run: Run, backup: ChosenBackup) -> None:
    verdict = criteria.backup_checked(backup, run.records.known(TrialRestore))
    assert not verdict.problems, verdict.text


@when("se comunica el inicio del rollback en el canal de incidentes", target_fixture="notice")
def notify_start(run: Run) -> str:
    return incident_entry.announce_start(run)


@then("el mensaje de inicio se entrega en cada canal del ambiente")
def start_delivered(run: Run) -> None:
    delivery(run, "start")
