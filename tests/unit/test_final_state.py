"""After §9 the record states what runs now: the pre-rollback release and its data, not the
target; the restore's row count no longer holds once §9's check shows the data back."""

from typing import Any

from rollbook.record import closing, final_state

DEPLOYED = {
    "event": "fact",
    "key": "deployed",
    "value": {"tag": "deploy-2", "commit": "b" * 40, "date": 2},
}
TARGET = {
    "event": "fact",
    "key": "target",
    "value": {"tag": "deploy-1", "commit": "a" * 40, "date": 1, "reason": "r"},
}
DROPPED = {
    "event": "operation",
    "kind": "database_dropped",
    "data": {"name": "app", "restoring": "/b/x.sql"},
}
FAILED = {"event": "paso_finished", "paso": "5.1", "status": "failed", "detail": "port held"}


def check(ok: bool) -> dict[str, Any]:
    return {
        "event": "recovery_check",
        "check": final_state.DATA_CHECKS[0],
        "ok": ok,
        "detail": "as recorded" if ok else "differs",
    }


def finished(ok: bool) -> dict[str, Any]:
    return {"event": "recovery_finished", "ok": ok}


def facts(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["key"]: e["value"] for e in events if e["event"] == "fact"}


def test_a_completed_rollback_names_the_target_and_counts_the_rows() -> None:
    events = [DEPLOYED, TARGET, DROPPED]
    restored = final_state.versions(facts(events), events)[1]
    assert restored == f"Versión restaurada: deploy-1 ({'a' * 12})"
    assert final_state.data_loss(events, 16) == ("16 filas", False)
    assert final_state.failure_lines(events) == []


def test_after_a_verified_recovery_the_defective_release_runs_and_nothing_is_lost() -> None:
    events = [DEPLOYED, TARGET, DROPPED, FAILED, check(True), finished(True)]
    lines = final_state.versions(facts(events), events)
    running = f"Versión en ejecución: deploy-2 ({'b' * 12}) (estado previo restaurado por §9)"
    assert lines[1] == running
    assert lines[2].startswith("Versión objetivo (no alcanzada): deploy-1")
    said, ok = final_state.data_loss(events, 673)
    assert ok is True and said.startswith("0 filas") and "673" in said
    failure = final_state.failure_lines(events)
    assert failure[0] == "- Paso que falló: 5.1 — port held"
    assert failure[1].startswith("- §9 comprobación: database content equals")
    assert ": OK (as recorded)" in failure[1]


def test_a_failed_recovery_claims_neither_release_nor_data() -> None:
    events = [DEPLOYED, TARGET, DROPPED, FAILED, check(False), finished(False)]
    assert "desconocida" in final_state.versions(facts(events), events)[1]
    assert final_state.data_loss(events, 673) == (
        "desconocido: la base de datos no volvió al estado previo verificado",
        None,
    )


def test_a_recovery_before_any_database_change_lost_nothing() -> None:
    events = [DEPLOYED, TARGET, FAILED, finished(True)]
    assert final_state.data_loss(events, None) == ("0 filas: la base de datos no se modificó", True)


def test_an_aborted_run_says_nothing_was_restored_nor_completed() -> None:
    events = [
        {"event": "run_started", "ts": "2026-12-04T10:00:00.000+00:00"},
        {**DEPLOYED, "ts": "2026-12-04T10:00:01.000+00:00"},
        {**TARGET, "ts": "2026-12-04T10:00:02.000+00:00"},
        {**FAILED, "paso": "1.3", "ts": "2026-12-04T10:00:29.000+00:00"},
        {"event": "outcome", "ts": "2026-12-04T10:00:30.000+00:00"},
    ]
    lines = final_state.versions(facts(events), events)
    assert lines[1] == f"Versión en ejecución: deploy-2 ({'b' * 12}) (sin cambios)"
    assert lines[2].startswith("Versión objetivo (no aplicada): deploy-1")
    assert not any(line.startswith("Versión restaurada") for line in lines)
    completed = closing.criteria(events)[0]
    assert completed == ("Rollback completado en < 15 minutos", final_state.UNCHANGED, None)
    # the same run that changed something is measured against the limit
    dropped = {**DROPPED, "ts": "2026-12-04T10:00:10.000+00:00"}
    measured = closing.criteria([*events[:3], dropped, *events[3:]])[0]
    assert measured[1].startswith("0.5 minutos") and measured[2] is True


def test_the_log_criterion_says_the_window_it_judged_beside_the_documents() -> None:
    whole = {"seconds": 300.0, "asked": 300.0, "before_start": 0, "errors": []}
    assert closing.log_window(whole) == "logs sin errores en los últimos 300 s"
    shortened = {"seconds": 6.2, "asked": 300.0, "before_start": 4, "errors": []}
    assert closing.log_window(shortened) == (
        "logs sin errores desde el último inicio de los servicios (6 s, no los 300 s del "
        "documento: antes, 4 líneas de error de la versión que corría)"
    )
