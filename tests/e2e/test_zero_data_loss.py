"""Issue 18 on the real sandbox. Path 1: `database.rollback: least_loss` reverses the defective
release's reversible migration (Paso 3.0) instead of restoring the nightly backup, so every row
written since that backup is still there after the rollback; a failure after the reversal is
undone by §9 from Paso 3.0's safety dump. Path 2: with a deployed data migration Django cannot
undo, `least_loss` restores the backup, then Paso 4.5 puts back the rows it dropped (a renamed
column mapped back) and lists a planted conflict in salvage.sql without overwriting it; under
swap, a failure after Paso 4.5 is undone by §9."""

import re
from pathlib import Path
from typing import Any

import pytest

from rollbook.actions.database import PRIMARY_KEYS, ident
from rollbook.core.operations import DatabaseDropped, SalvageScratch, begun
from rollbook.sandbox.variant import fast_options
from rollbook.sandbox.variant import write_variant as environments
from tests.e2e import releases
from tests.e2e.sandbox_state import (
    INCIDENT,
    backup_fingerprints,
    connect,
    dump,
    fast,
    fingerprints,
    run_feature,
    state,
)
from tests.e2e.test_faults import make_fault
from tests.e2e.test_rollback import COMPLETED, RESTORED, http_health

pytestmark = pytest.mark.e2e


def keys() -> dict[str, set[tuple[Any, ...]]]:
    """Per table (but django_migrations, the schema's bookkeeping), its rows' primary keys."""
    with connect() as conn:
        found = conn.execute(PRIMARY_KEYS).fetchall()
        return {
            table: set(
                conn.execute(f'SELECT {", ".join(map(ident, columns))} FROM "{table}"').fetchall()
            )
            for table, columns in found
            if table != "django_migrations"
        }


def customers(name_column: str) -> set[tuple[Any, ...]]:
    with connect() as conn:
        return set(conn.execute(f"SELECT id, {name_column}, email FROM core_customer").fetchall())


def orders() -> set[tuple[Any, ...]]:
    with connect() as conn:
        return set(conn.execute("SELECT * FROM core_order").fetchall())


def least_loss(data: dict[str, Any]) -> None:
    fast(data)
    data["database"]["rollback"] = "least_loss"


def test_reversing_the_migrations_keeps_every_row_and_section_9_undoes_it(
    sandbox_reset: None, tmp_path: Path
) -> None:
    variant = environments(tmp_path, least_loss)
    # a failure after the reversal (the target's smoke test fails at Paso 6.2): §9 puts the
    # pre-rollback database back from Paso 3.0's safety dump, the reversed migration applied again
    before = state()
    failing = run_feature(tmp_path, *INCIDENT, *make_fault("smoke-test-fails"), extra_env=variant)
    assert failing.outcome == RESTORED, dump(failing)
    assert failing.pasos()["3.0"] == "passed" and failing.pasos()["6.2"] == "failed"
    assert state().restored_to(before)
    [markdown] = failing.folder.glob("ROLLBACK-*.md")
    [loss] = [
        line
        for line in markdown.read_text().splitlines()
        if line.startswith("| 0 pérdida de datos |")
    ]
    assert "| 0 filas" in loss and loss.endswith("| CUMPLE |"), loss
    # the rollback itself, from that same pre-rollback state
    rows, named, ordered = keys(), customers("full_name"), orders()
    facts_before = fingerprints()
    with connect() as conn:  # the customers whose tier (the deployed release's column) it drops
        query = "SELECT id FROM core_customer WHERE tier IS NOT NULL ORDER BY id LIMIT 10"
        tiered = [str(r[0]) for r in conn.execute(query)]
    done = run_feature(tmp_path, *INCIDENT, extra_env=variant)
    assert done.outcome == COMPLETED, dump(done)
    pasos = done.pasos()
    assert pasos["3.0"] == "passed" and pasos["4.3"] == "passed"
    assert pasos["4.0"] == "passed" and pasos["5.4"] == "skipped"  # the safety dump; no swap
    assert http_health() == 200
    facts = done.facts()
    assert facts["database_path"]["path"] == "migrate", facts["database_path"]
    assert not [c for c in begun(done.journal()) if isinstance(c, DatabaseDropped)]  # no restore
    # every row of the pre-rollback state is there, table by table, with its content
    after = keys()
    assert {
        t: len(k - after.get(t, set())) for t, k in rows.items() if k - after.get(t, set())
    } == {}
    assert customers("name") == named and orders() == ordered
    # ... rows the nightly backup never had among them: restoring it would have lost them
    nightly = backup_fingerprints(facts["backup"]["path"])
    written = {
        t: facts_before[t]["rows"] - nightly[t]["rows"] for t in ("core_customer", "core_order")
    }
    assert written["core_customer"] > 0 and written["core_order"] > 0, written
    # the dropped column (the defective release's own) was counted before any change
    assert facts["database_path"]["drops"] == {"core_customer.tier": len(named)}
    assert sum(facts["data_loss"]["tables"].values()) == 0, facts["data_loss"]
    text = next(done.folder.glob("ROLLBACK-*.md")).read_text()
    assert "| 0 pérdida de datos | 0 filas | CUMPLE |" in text
    assert f"core_customer.tier: {len(named)}" in text and "- Datos perdidos: NO — " in text
    # ... and named: the keys of the first rows that held them
    assert facts["database_path"]["drop_keys"] == {"core_customer.tier": tiered} and tiered
    assert f"core_customer.tier: {len(named)} (claves {', '.join(tiered)} …)" in text


def plant_rows() -> dict[str, Any]:
    """Rows written after the deploy to the table the migration left alone (orders of customers
    the backup has), and one of the backup's orders changed since: a conflict to be."""
    with connect() as conn:
        conn.execute(
            "INSERT INTO core_order (amount, status, created_at, customer_id) VALUES "
            "(10, 'paid', now(), 1), (20, 'paid', now(), 2), (30, 'paid', now(), 3)"
        )
        conn.execute("UPDATE core_order SET status = 'refunded' WHERE id = 1")
        return {"conflict": conn.execute("SELECT * FROM core_order WHERE id = 1").fetchone()}


def test_an_irreversible_migration_restores_then_recovers_every_row_but_the_conflict(
    sandbox_reset: None, tmp_path: Path
) -> None:
    # the deployed release adds a data migration Django cannot undo: least_loss must restore,
    # then Paso 4.5 recovers
    releases.deploy_irreversible_release()
    variant = environments(tmp_path, least_loss)
    planted = plant_rows()
    # under swap (rows read from the database kept aside), a failure after Paso 4.5 (the target's
    # smoke test fails at Paso 6.2): §9 renames the pre-rollback database back — the recovered
    # rows and the conflict's newer content as they were
    swapped = environments(tmp_path / "swap", lambda d: (least_loss(d), fast_options(d)))
    before = state()
    failing = run_feature(tmp_path, *INCIDENT, *make_fault("smoke-test-fails"), extra_env=swapped)
    assert failing.outcome == RESTORED, dump(failing)
    assert failing.pasos()["4.5"] == "passed" and failing.pasos()["6.2"] == "failed"
    recovered = failing.facts()["rows_recovered"]
    assert recovered["source"] == failing.facts()["pre_rollback_backup"]["database"]
    assert recovered["tables"]["core_order"]["recovered"] > 0, recovered
    assert state().restored_to(before)
    # the rollback itself
    rows, named, ordered = keys(), customers("full_name"), orders()
    counted = fingerprints()
    done = run_feature(tmp_path, *INCIDENT, extra_env=variant)
    assert done.outcome == COMPLETED, dump(done)
    assert done.pasos()["4.5"] == "passed" and http_health() == 200
    facts = done.facts()
    assert facts["migration_plan"]["kind"] == "restore", facts["migration_plan"]
    assert "core.0003_promote_gold" in facts["migration_plan"]["why"]
    assert facts["database_path"]["recover"] is True
    # the environment names no restore strategy and the role owns the database: swap, so Paso 4.5
    # reads the database kept aside (no copy of the safety dump restored in the downtime)
    assert facts["database_path"]["strategy"] == "swap", facts["database_path"]
    assert "se restaura por swap (por defecto con el Paso 4.5" in facts["database_path"]["why"]
    assert facts["rows_recovered"]["source"] == facts["pre_rollback_backup"]["database"]
    assert not [c for c in begun(done.journal()) if isinstance(c, SalvageScratch)]
    statement = facts["rows_recovered"]["tables"]
    nightly = backup_fingerprints(facts["backup"]["path"])
    for table in ("core_customer", "core_order"):  # nothing was deleted since the nightly
        dropped = counted[table]["rows"] - nightly[table]["rows"]
        assert dropped > 0 and statement[table]["dropped"] == dropped, statement[table]
        assert statement[table]["recovered"] == dropped, statement[table]
    conflicts = {t: s["conflicts"] for t, s in statement.items()}
    assert conflicts == {"core_customer": 0, "core_order": 1}
    assert statement["core_customer"]["columns_renamed"] == {"name": "full_name"}
    # every pre-rollback row is there by key; the customers under their name, the orders whole,
    # but the conflict: the backup's content stays, the newer one is in salvage.sql
    after = keys()
    assert {t: k - after.get(t, set()) for t, k in rows.items() if k - after.get(t, set())} == {}
    assert customers("name") == named
    conflict = planted["conflict"]
    assert orders() - ordered == {o for o in orders() if o[0] == conflict[0]} != set()
    assert ordered - orders() == {conflict}
    salvage = Path(facts["rows_recovered"]["salvage"])
    assert salvage.parent == done.folder and salvage.stat().st_mode & 0o777 == 0o600
    assert "\trefunded\t" in salvage.read_text() and "\tconflict\n" in salvage.read_text()
    # the sequences moved past the recovered keys: the app's next order takes a new one
    with connect() as conn:
        new = conn.execute(
            "INSERT INTO core_order (amount, status, created_at, customer_id) "
            "VALUES (1, 'paid', now(), 1) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
    assert new > max(k[0] for k in rows["core_order"])
    text = next(done.folder.glob("ROLLBACK-*.md")).read_text()
    # a conflict is not a loss: the row is there, its newer content in salvage.sql, to decide
    assert facts["data_loss"]["tables"] == {"core_customer": 0, "core_order": 0}
    assert facts["data_loss"]["conflicts"] == {"core_order": 1}
    assert re.search(
        r"\| 0 pérdida de datos \| 0 filas perdidas; 1 filas cambiadas en conflicto "
        r"\(core_order: 1\).* \| A DECIDIR \|",
        text,
    ), text
    assert "| core_order | " in text and "conflicto (misma clave, otro contenido" in text
    # the changed row named: its key, the column that differs, the backup's value → the newer
    with connect() as conn:
        kept = conn.execute("SELECT status FROM core_order WHERE id = %s", (conflict[0],))
        [status] = kept.fetchone()  # type: ignore[misc]
    assert statement["core_order"]["changed"] == {
        str(conflict[0]): {"status": [status, "refunded"]}
    }, statement["core_order"]
    assert f"{conflict[0]}: status «{status}» → «refunded»" in text
