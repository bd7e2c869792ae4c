"""§4 — Prerrequisitos (prerequisites.feature, y compartidos con la Etapa 1)."""

from pytest_bdd import then, when

from rollbook.actions.database.backups import Backup
from rollbook.checks import prerequisites
from rollbook.core.run import Run
from rollbook.core.verdict import judged, one
from rollbook.governance import approval


@when("se busca el backup más reciente", target_fixture="newest")
def newest_backup(run: Run) -> Backup:
    return prerequisites.newest_valid_backup(run)


@then("existe un backup más joven que la edad máxima, completo")
def backup_recent(run: Run, newest: Backup) -> None:
    verdict = prerequisites.backup_usable(newest, run.site.env.database.max_backup_age)
    assert not verdict.problems, verdict.text


@when("se revisa el directorio de backups", target_fixture="space")
def backups_folder(run: Run) -> dict[str, int]:
    return prerequisites.backups_folder_ready(run)


@then("el directorio de backups admite el backup previo al rollback")
def room_for_dump(space: dict[str, int]) -> None:
    verdict = prerequisites.room_for(space)
    assert not verdict.problems, verdict.text


@when("se consulta la base de datos con las credenciales del ambiente", target_fixture="problems")
def query_database(run: Run) -> list[str]:
    return prerequisites.database_problems(run)


@then("la base de datos responde")
def database_answers(problems: list[str]) -> None:
    verdict = judged(problems)
    assert not verdict.problems, verdict.text


@when("se revisa la aprobación dada", target_fixture="missing")
def check_approval(run: Run) -> str | None:
    return approval.problem(run)


@then("la aprobación cubre lo que el ambiente exige")
def approval_covers(missing: str | None) -> None:
    verdict = one(missing)
    assert not verdict.problems, verdict.text


@when("se revisan los canales de notificación del ambiente", target_fixture="channels")
def check_channels(run: Run) -> dict[str, str]:
    return prerequisites.channel_states(run)


@then("cada canal está configurado y alcanzable")
def channels_ok(run: Run, channels: dict[str, str]) -> None:
    verdict = prerequisites.channels_usable(channels, run.site.env.notify)
    assert not verdict.problems, verdict.text
