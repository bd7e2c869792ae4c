"""Selection rules (order of the procedure, run mode) and the lock's staleness."""

import os
import socket

from rollbook.core.executor import Mode
from rollbook.lifecycle.lock import is_stale
from rollbook.lifecycle.selection import Scenario, order_problem, run_mode

PASOS = [
    Scenario("1.1", "Paso 1.1", frozenset({"etapa1", "solo_lectura"})),
    Scenario("1.3", "Paso 1.3", frozenset({"etapa1", "solo_lectura", "base_de_datos"})),
    Scenario("2.2", "Paso 2.2", frozenset({"etapa2"})),
    Scenario("2.3", "Paso 2.3", frozenset({"etapa2", "opcional"})),
    Scenario("4.3", "Paso 4.3", frozenset({"etapa4", "base_de_datos"})),
    Scenario("5.1", "Paso 5.1", frozenset({"etapa5"})),
]


def pick(*pasos: str) -> list[Scenario]:
    return [s for s in PASOS if s.paso in pasos]


def test_prefixes_and_quick_rollback_keep_the_order() -> None:
    assert order_problem("f", PASOS, pick("1.1")) is None
    assert order_problem("f", PASOS, pick("1.1", "1.3", "2.2")) is None
    assert order_problem("f", PASOS, pick("1.1", "2.2", "5.1")) is None  # no DB, no optional


def test_a_gap_of_a_required_paso_is_refused() -> None:
    problem = order_problem("rollback.feature", PASOS, pick("5.1"))
    assert problem is not None
    assert "Paso 5.1 is selected without Paso 1.1 (2 earlier Pasos left out)" in problem


def test_independent_checklists_allow_any_selection() -> None:
    checks = [Scenario("8.1 — x", "8.1 — x", frozenset({"independiente"})), *PASOS]
    assert order_problem("validation.feature", checks, pick("5.1")) is None


def test_run_mode() -> None:
    assert run_mode(pick("1.1", "1.3"), dry_run=False) is Mode.READ_ONLY
    assert run_mode(pick("1.1", "2.2"), dry_run=False) is Mode.EXECUTE
    assert run_mode(pick("1.1", "2.2"), dry_run=True) is Mode.DRY_RUN


def test_a_lock_is_stale_only_when_its_process_is_gone_on_this_host() -> None:
    here = socket.gethostname()
    assert not is_stale({"host": here, "pid": os.getpid()})
    assert is_stale({"host": here, "pid": 2**22 + 12345})
    assert not is_stale({"host": "another-host", "pid": 2**22 + 12345})
