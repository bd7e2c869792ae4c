"""Paso 1.2's choice of the way back (database.rollback) from the migrations' classification, and
what the record says a reversal does to the data."""

from pathlib import Path

import pytest

from rollbook.actions.database import database_path
from rollbook.actions.database.migration_plan import describe
from rollbook.core.errors import StepFailed
from rollbook.core.run import Run
from rollbook.core.state import MigrationPlan
from tests.unit.local_run import local_run

KINDS = ("same", "reversible", "reversible-lossy", "restore", "unknown")


def with_policy(run: Run, policy: str, kind: str) -> Run:
    # the strategy named: for a recovery, an unnamed one is chosen by asking the database's owner
    update = {"rollback": policy, "restore_strategy": "recreate"}
    database = run.site.env.database.model_copy(update=update)
    run.site.env = run.site.env.model_copy(update={"database": database})
    run.records.keep(
        MigrationPlan(
            kind, extra=[], commands=[], missing=[], why="because", operations=[], targets=[]
        )
    )
    return run


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("policy", "migrates"),
    [("restore", ()), ("least_loss", ("same", "reversible")), ("migrate", ("same", "reversible"))],
)
def test_the_path_follows_the_policy_and_the_classification(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    migrates: tuple[str, ...],
    kind: str,
) -> None:
    run = with_policy(local_run(tmp_path, monkeypatch), policy, kind)
    if policy == "migrate" and kind not in migrates:  # asked for, and it would lose data
        with pytest.raises(StepFailed, match=r"set database\.rollback: least_loss \(or restore\)"):
            database_path.choose(run.incident, run.site, run.records)
        assert not database_path.migrating(run.records)
        return
    chosen = database_path.choose(run.incident, run.site, run.records)
    assert chosen.path == ("migrate" if kind in migrates else "restore")
    assert database_path.migrating(run.records) == (kind in migrates)


def test_what_undoing_each_operation_does_is_said() -> None:
    said = [
        describe({"effect": "drops", "table": "core_customer", "column": "tier"}),
        describe({"effect": "drops", "table": "core_invoice", "column": None}),
        describe({"effect": "empties", "table": "core_order", "column": "note"}),
        describe({"effect": "unknown", "operation": "Raw Python operation"}),
    ]
    assert said[0].startswith("retira core_customer.tier (solo la versión desplegada lo tiene")
    assert said[1].startswith("retira la tabla core_invoice")
    assert "sus valores de antes del deploy solo están en el backup" in said[2]
    assert said[3] == (
        "ejecuta Raw Python operation al revés (su efecto en las filas es desconocido)"
    )


def test_the_record_names_the_dropped_values_and_where_they_are_kept() -> None:
    facts = {
        "database_path": {
            "path": "migrate",
            "policy": "p",
            "why": "w",
            "recover": False,
            "drops": {"core_customer.tier": 205, "core_invoice": 2},
            "drop_keys": {"core_customer.tier": ["1", "2"], "core_invoice": ["7", "9"]},
        },
        "pre_rollback_backup": {"path": "/b/pre_rollback_x.sql"},
    }
    # each count with the keys of its first rows, "…" where there are more
    assert database_path.dropped_note(facts) == (
        " — la reversión retiró valores que solo tenía la versión desplegada "
        "(core_customer.tier: 205 (claves 1, 2 …), core_invoice: 2 (claves 7, 9)); quedan en "
        "/b/pre_rollback_x.sql"
    )
    facts["database_path"]["path"] = "restore"
    assert database_path.dropped_note(facts) == ""


def test_least_loss_is_the_default_and_the_procedures_restore_is_recorded_as_a_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)  # its environment file names no database.rollback
    run.records.keep(
        MigrationPlan(
            "reversible",
            extra=[],
            commands=[],
            missing=[],
            why="because",
            operations=[],
            targets=[],
        )
    )
    chosen = database_path.choose(run.incident, run.site, run.records)
    assert (chosen.policy, chosen.path) == ("least_loss", "migrate")
    assert chosen.why.startswith("database.rollback: least_loss (por defecto): ")
    assert chosen.why.endswith("se conservan todas las filas")
    chosen = database_path.choose(
        run.incident, run.site, with_policy(run, "restore", "reversible").records
    )
    assert chosen.why.startswith(
        "database.rollback: restore (elegido en el archivo del ambiente): "
    )
    assert "las filas escritas después del backup se pierden" in chosen.why
