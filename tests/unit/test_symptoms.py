"""Paso 1.1's observable criteria for an immediate rollback, from what the URLs and the database
answered, and the contradiction with a CRITICO declared while nothing observable is down."""

from rollbook.actions.symptoms import CRITICAL, DOWN, LOG_RATE, NO_DATABASE, summary, verdict
from rollbook.core.state import SymptomsObserved
from rollbook.governance import approval

HEALTH, ORDERS = "local:// http://app/health/", "local:// http://app/orders/"


def test_everything_answering_contradicts_a_critical_declaration() -> None:
    met, failing, contradiction = verdict(
        {HEALTH: 200, ORDERS: 200}, [HEALTH], [ORDERS], "responde", "CRITICO"
    )
    assert met == [] and failing == {}
    assert contradiction is not None and "2 de 2 URLs responden sin error" in contradiction
    assert verdict({HEALTH: 200}, [HEALTH], [], "responde", "ALTO")[2] is None  # none declared


def test_each_criterion_from_its_own_observation() -> None:
    down = verdict({HEALTH: 503, ORDERS: 0}, [HEALTH], [ORDERS], "responde", "CRITICO")
    assert down[0] == [DOWN, CRITICAL]
    # the health check failing is the app saying it is down, whatever other pages answer
    assert verdict({HEALTH: 500, ORDERS: 200}, [HEALTH], [], "responde", "CRITICO")[0] == [DOWN]
    met, failing, contradiction = verdict(
        {HEALTH: 200, ORDERS: 500}, [HEALTH], [ORDERS], "responde", "CRITICO"
    )
    assert (met, failing, contradiction) == ([CRITICAL], {ORDERS: 500}, None)
    no_db = verdict({HEALTH: 200}, [HEALTH], [], "no responde: timeout", "CRITICO")
    assert no_db[0] == [NO_DATABASE]


def test_the_record_line_names_what_failed_and_what_was_not_observed() -> None:
    fact = {
        "urls": {HEALTH: 200, ORDERS: 500},
        "failing": {ORDERS: 500},
        "database": "responde",
        "criteria_met": [CRITICAL],
        "not_observed": ["Pérdida de datos detectada"],
        "contradiction": None,
    }
    assert summary(SymptomsObserved.of(fact)) == (
        f"1 de 2 URLs con error ({ORDERS}: 500); base de datos responde; criterios cumplidos: "
        f"{CRITICAL}; no observados: Pérdida de datos detectada"
    )


def test_more_than_a_hundred_error_lines_a_minute_is_the_log_criterion() -> None:
    calm = verdict({HEALTH: 200}, [HEALTH], [], "responde", "CRITICO", per_minute=100)
    assert calm[0] == [] and calm[2] is not None
    assert "y los logs tienen 100 errores en el último minuto" in calm[2]
    assert verdict({HEALTH: 200}, [HEALTH], [], "responde", "CRITICO", per_minute=101)[0] == [
        LOG_RATE
    ]
    # without logs the criterion is not evaluated, and the contradiction does not claim them
    unseen = verdict({HEALTH: 200}, [HEALTH], [], "responde", "CRITICO", per_minute=None)
    assert unseen[0] == [] and unseen[2] is not None and "logs" not in unseen[2]


def test_the_record_line_says_the_logs_error_rate_and_first_error() -> None:
    logged = {
        "per_minute": 7,
        "window": 42.0,
        "asked": 300.0,
        "in_window": 12,
        "since_start": 42.0,
        "first": "2026-12-07T10:51:03.000+00:00",
        "lines": ["local:// a.log: ERROR x", "local:// a.log: ERROR y"],
        "unread": [],
    }
    fact = {
        "urls": {HEALTH: 500},
        "failing": {HEALTH: 500},
        "database": "responde",
        "log_errors": logged,
        "criteria_met": [DOWN],
        "not_observed": [],
        "contradiction": None,
    }
    assert (
        "; errores en logs: 7 en el último minuto, 12 en los últimos 42 s (desde el inicio de "
        "los servicios); el primero desde el inicio de los servicios (hace 42 s): 10:51:03 UTC, "
        "local:// a.log: ERROR x; criterios cumplidos: " in summary(SymptomsObserved.of(fact))
    )
    # a release running for an hour: the rate over the document's 300 s, the first error an
    # hour back; a log not read is said
    older = {**logged, "window": 300.0, "since_start": 3600.0, "unread": ["local:// b.log: x"]}
    said = summary(SymptomsObserved.of({**fact, "log_errors": older}))
    assert (
        "12 en los últimos 300 s; el primero desde el inicio de los servicios (hace 3600 s)" in said
    )
    assert "; SIN LEER: local:// b.log: x" in said


def test_what_an_approver_signs_reads_paso_1_1_from_the_plans_json() -> None:
    """`rollbook approve` and the record read the observation back from plan.json (a dict)."""
    observed = {"urls": {HEALTH: 500}, "failing": {HEALTH: 500}, "database": "responde"}
    said = approval.situation({"severity": "ALTO", "declared": "500s", "observed": observed})
    assert said.startswith("declarado ALTO: 500s; observado: 1 de 1 URLs con error")
    unseen = approval.situation({"severity": "ALTO", "declared": "500s", "observed": None})
    assert unseen.endswith("observado: n/d")
