"""Facts, milestones, downtime and the §7.1 criteria, read back from journal events."""

from rollbook.core import timeline
from rollbook.plugin.collection import node_name
from rollbook.record import closing


def fact(ts: str, key: str, **value: object) -> dict:
    return {"ts": f"2026-11-27T10:{ts}+00:00", "event": "fact", "key": key, "value": value}


EVENTS = [
    {"ts": "2026-11-27T10:00:00.000+00:00", "event": "run_started"},
    fact("00:05.000", "incident", severity="CRITICO"),
    {
        "ts": "2026-11-27T10:00:50.000+00:00",
        "event": "operation",
        "kind": "services_stopped_on",
        "data": {"host": "local://", "running": ["gunicorn"]},
    },
    fact("01:00.000", "services_stopped", names=["gunicorn"]),
    fact("02:00.000", "code_checked_out", tag="t"),
    fact("03:00.000", "database_restored", name="db"),
    fact("03:30.000", "services_started", names=["gunicorn"]),
    fact("03:40.000", "health", status=500),
    fact("04:00.000", "health", status=200),
    fact("04:10.000", "critical_functions", login=200, database=True),
    fact("05:00.000", "log_watch", errors=[]),
    fact("05:01.000", "data_loss", tables={"core_order": 5, "core_customer": 0}),
    {"ts": "2026-11-27T10:06:00.000+00:00", "event": "outcome"},
]


def test_downtime_runs_from_stop_to_the_first_health_200() -> None:
    assert timeline.downtime(EVENTS) == 180.0  # no stop command journaled: from the stop's end
    stop = {"ts": "2026-11-27T10:00:40.000+00:00", "event": "intent", "paso": "2.2"}
    assert timeline.downtime([*EVENTS[:2], stop, *EVENTS[2:]]) == 200.0  # from its start


def test_milestones_follow_the_procedures_timeline() -> None:
    labels = [label for _, label in timeline.milestones(EVENTS)]
    assert labels == [
        "Problema detectado (inicio de rollbook)",
        "Rollback aprobado",
        "Servicios detenidos",
        "Código revertido",
        "DB restaurada",
        "Servicios reiniciados",
        "Health check 200",
        "Validación completada",
    ]


def test_the_problem_is_dated_by_the_first_error_paso_1_1_found_in_the_logs() -> None:
    seen = fact(
        "00:01.000", "symptoms_observed", log_errors={"first": "2026-11-27T09:57:12.000+00:00"}
    )
    [first, started, *_] = timeline.milestones([EVENTS[0], seen, *EVENTS[1:]])
    assert first == (
        "2026-11-27T09:57:12.000+00:00",
        "Problema detectado (primer error en los logs, observado en el Paso 1.1)",
    )
    assert started == ("2026-11-27T10:00:00.000+00:00", "Inicio de rollbook")
    # no error before the run (none, or only those its own probe caused): dated by the run
    for first_error in (None, "2026-11-27T10:00:00.500+00:00"):
        quiet = fact("00:01.000", "symptoms_observed", log_errors={"first": first_error})
        labels = [label for _, label in timeline.milestones([EVENTS[0], quiet, *EVENTS[1:]])]
        assert labels[:2] == ["Problema detectado (inicio de rollbook)", "Rollback aprobado"]


def test_criteria_are_measured_and_judged() -> None:
    result = {name: (value, ok) for name, value, ok in closing.criteria(EVENTS)}
    assert result["Rollback completado en < 15 minutos"] == ("6.0 minutos (360 s)", True)
    assert result["Downtime adicional < 5 minutos"] == ("3.0 minutos (180 s)", True)
    assert result["100% funcionalidades críticas restauradas"] == ("login: 200, database: sí", True)
    assert result["0 errores críticos post-rollback"] == ("0 líneas de error", True)
    assert result["0 pérdida de datos"] == ("5 filas", False)


def paso(number: str, seconds: float) -> dict:
    return {
        "ts": "2026-11-27T10:00:00.000+00:00",
        "event": "paso_finished",
        "paso": number,
        "phase": "call",
        "status": "passed",
        "duration": seconds,
    }


def test_each_etapa_is_measured_beside_its_anexo_b_budget() -> None:
    events = [
        paso("1.1", 2.0),
        paso("1.2", 1.5),
        paso("3.1", 150.0),
        paso("3.2", 40.0),
        paso("6.1", 3.0),
    ]
    rows = closing.anexo_b({"etapa1": 300, "etapa3": 180}, events)
    assert rows == [
        ("Etapa 1", "3.5 s", "300 s", "dentro"),
        ("Etapa 3", "190.0 s", "180 s", "EXCEDIDO"),
        ("Etapa 6", "3.0 s", "-", "-"),
    ]


def test_criteria_not_measured_when_the_run_stopped_early() -> None:
    result = closing.criteria(EVENTS[:3])
    assert [ok for _, _, ok in result][1:] == [None, None, None, None]


def test_scenario_names_become_ascii_test_names() -> None:
    assert (
        node_name("Paso 6.3 — Validación de funcionalidades críticas")
        == "test_paso_6_3_validacion_de_funcionalidades_criticas"
    )


def test_after_section_9_the_outage_ends_when_every_url_answers_as_before() -> None:
    recovered = [
        *EVENTS[:-1],
        {
            "ts": "2026-11-27T10:05:30.000+00:00",
            "event": "recovery_check",
            "ok": True,
            "check": "local:// http://127.0.0.1/api/health/ answers 500 as before the run",
        },
        {"ts": "2026-11-27T10:05:40.000+00:00", "event": "recovery_finished", "ok": True},
    ]
    assert timeline.downtime(recovered) == 270.0  # from the stop's end to the last answer
    failed = [*recovered[:-1], {**recovered[-1], "ok": False}]
    assert timeline.downtime(failed) == 180.0  # nothing seen back by §9: the health 200 only
    # a §9 run by hand: from its own first change to the last URL it saw answer as before
    by_hand = [
        {"ts": "2026-11-27T11:00:00.000+00:00", "event": "run_started"},
        {"ts": "2026-11-27T11:00:02.000+00:00", "event": "intent", "paso": "9.1"},
        {**recovered[-2], "ts": "2026-11-27T11:00:50.000+00:00"},
        {**recovered[-1], "ts": "2026-11-27T11:00:51.000+00:00"},
    ]
    assert timeline.downtime(by_hand) == 48.0


def test_a_log_window_shorter_than_the_procedures_is_named_as_a_deviation() -> None:
    def errors_row(seconds: int) -> tuple[str, object]:
        watched = fact("05:00.000", "log_watch", errors=[], seconds=seconds)
        rows = closing.criteria([*EVENTS[:11], watched, *EVENTS[12:]])
        return {n: (v, o) for n, v, o in rows}["0 errores críticos post-rollback"]

    assert errors_row(3) == (
        "0 líneas de error en 3 s de logs observados — DESVIACIÓN: 3 s en lugar de los 120 s del "
        "Paso 6.4 (logs.watch del ambiente)",
        closing.SHORT,
    )
    assert closing.mark(closing.SHORT) == "NO VERIFICADO (ventana menor que la del Paso 6.4)"
    assert errors_row(120) == ("0 líneas de error en 120 s de logs observados", True)
