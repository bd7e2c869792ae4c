"""Which Pasos a run may select, and the mode it runs in (pure rules, no pytest).

A selection from the procedure must keep its order: a prefix of the Pasos, from which only whole
@base_de_datos Pasos (Anexo A's quick rollback) or @opcional Pasos may be left out. Features tagged
@independiente (validation, prerequisites) are checklists: any selection is fine.
"""

from __future__ import annotations

from dataclasses import dataclass

from rollbook.core.executor import Mode

MAY_BE_LEFT_OUT = frozenset({"base_de_datos", "opcional"})
INDEPENDENT = "independiente"
VALIDATES_RELEASE = "valida_release"  # passing all of it proves the deployed release (ledger)
READ_ONLY = "solo_lectura"
RECOVERY = "recuperacion"  # §9 by hand: --incident names the rollback to put back
NO_ENVIRONMENT = "sin_ambiente"  # pure rules (Anexo C's decision tree): no hosts, no journal


@dataclass(frozen=True)
class Scenario:
    paso: str
    name: str
    tags: frozenset[str]


def order_problem(feature: str, every: list[Scenario], selected: list[Scenario]) -> str | None:
    """Why this selection breaks the procedure's order, or None when it keeps it."""
    if not selected or any(INDEPENDENT in s.tags for s in every):
        return None
    chosen = {s.name for s in selected}
    last = max(i for i, s in enumerate(every) if s.name in chosen)
    missing = [s for s in every[:last] if s.name not in chosen and not s.tags & MAY_BE_LEFT_OUT]
    if not missing:
        return None
    return (
        f"{feature}: the selection breaks PROCED-BACK-003's order: Paso {every[last].paso} "
        f"is selected without Paso {missing[0].paso} ({len(missing)} earlier Pasos left out). "
        "Select the procedure from its first Paso; only @base_de_datos (quick rollback, "
        '-m "not base_de_datos") and @opcional Pasos may be left out.'
    )


def run_mode(selected: list[Scenario], dry_run: bool) -> Mode:
    """--dry-run plans; a run of @solo_lectura Pasos only is read-only; anything else executes."""
    if dry_run:
        return Mode.DRY_RUN
    if selected and all(READ_ONLY in s.tags for s in selected):
        return Mode.READ_ONLY
    return Mode.EXECUTE
