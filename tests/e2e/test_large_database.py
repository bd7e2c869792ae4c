"""The sandbox grown to 1 GB: while Paso 4.3's psql reads the backup, the console says how far it
is (percentage, elapsed, ETA) beside what Paso 1.3's trial restore predicted, and the journal keeps
each line as a progress event; the lines are repeated at the end of the e2e output, where a reader
of CI sees them."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollbook import sandbox
from rollbook.actions.database import loss_statement
from rollbook.sandbox import bulk
from rollbook.sandbox.variant import restoring, write_variant
from tests.conftest import show
from tests.e2e.sandbox_state import INCIDENT, connect, dump, env, run_feature
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e

GROWTH_MB = 1024
# "  psql iact_staging: 39% (291 MB de 754 MB), 2 s, ETA 3 s (previsto 8 s)" (no ETA at 0 bytes)
LINE = re.compile(
    r"^  psql \S+: (\d+)% \((\d+) MB de (\d+) MB\), \d+ s(?:, ETA (\d+) s)? \(previsto (\d+) s\)$",
    re.M,
)
PREDICTED = re.compile(
    r"^  psql \S+: previsto (\d+) s por la restauración de prueba \(Paso 1\.3\)$"
)


@pytest.fixture
def grown(sandbox_up: None) -> Iterator[None]:
    """The start state and the nightly backup grown by 1 GB; back to their usual size after."""
    try:
        bulk.grow(GROWTH_MB)
        sandbox.reset()
        yield
    finally:
        bulk.grow(0)
        sandbox.reset()


WRITTEN = ("core_customer", "core_order")  # the tables the sandbox writes to after its backup


def ids(tables: tuple[str, ...]) -> dict[str, set[int]]:
    with connect() as conn:
        return {t: {r[0] for r in conn.execute(f"SELECT id FROM {t}")} for t in tables}


def between(output: str, paso: str, following: str) -> str:
    return output.split(f"▶ Paso {paso}", 1)[1].split(f"▶ Paso {following}", 1)[0]


def test_the_restore_of_a_1_gb_database_says_how_far_it_is(
    grown: None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with connect() as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert size is not None and size[0] >= 2**30, size
    backup = newest_nightly().stat().st_size

    def trial(data: dict[str, Any]) -> None:
        restoring(data)
        data["database"]["verify_by_restore"] = True

    before = ids(WRITTEN)
    done = run_feature(tmp_path, *INCIDENT, extra_env=write_variant(tmp_path, trial))
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    gone = {t: sorted(keys - ids(WRITTEN)[t]) for t, keys in before.items()}
    # the procedure's restore, one setting away from the default, is recorded as that choice, and
    # the rows written after the backup are lost and counted
    facts = done.facts()
    assert facts["database_path"]["why"].startswith(
        "database.rollback: restore (elegido en el archivo del ambiente): "
    ), facts["database_path"]
    lost = sum(facts["data_loss"]["tables"].values())
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert lost > 0 and f"Datos perdidos: SÍ — {lost} filas" in markdown.read_text()
    # ... each named by its key and, for the first ones, the app's own label of the row (asked at
    # Paso 1.3, before any change): the first ones in the record, every one in the list beside it
    assert all(gone.values()), gone
    labels = facts["row_labels"]["tables"]
    orders = labels["core_order"]
    assert len(orders) == loss_statement.SHOWN and all(
        re.fullmatch(rf"Order #{key} \(\w+, [\d.]+\)", said) for key, said in orders.items()
    ), orders
    text = markdown.read_text()
    for table, keys in gone.items():
        mine = labels.get(table, {})
        first = [str(k) for k in keys[: loss_statement.SHOWN]]
        assert facts["data_loss"]["tables"][table] == len(keys)
        assert facts["data_loss"]["keys"][table] == first
        named = ", ".join(f"{k} «{mine[k]}»" if k in mine else k for k in first)
        assert f"{table}: {len(keys)} (claves {named}" in text, (named, text[:4000])
    listed = Path(facts["data_loss"]["listed"]).read_text().splitlines()
    assert len(listed) == 1 + lost and {
        f"{t}\t{k}\t{labels.get(t, {}).get(str(k), '')}" for t, keys in gone.items() for k in keys
    } <= set(listed)
    predicted = round(done.facts()["trial_restore"]["predicted"]["paso_4_3"])
    paso = between(done.output, "4.3", "4.4")
    lines = [line for line in paso.splitlines() if line.startswith("  psql ")]
    first = PREDICTED.match(lines[0]) if lines else None
    assert first and int(first.group(1)) == predicted, paso[:3000]
    said = LINE.findall(paso)
    assert said and len(said) == len(lines) - 1, paso[:3000]
    shares = [int(share) for share, *_ in said]
    assert shares == sorted(shares) and shares[-1] >= 50, said  # rising, and most of it seen
    assert any(eta for *_, eta, _ in said), said
    assert {int(total) for _, _, total, *_ in said} == {round(backup / 2**20)}, (said, backup)
    assert {int(p) for *_, p in said} == {predicted}, said
    events = [
        e
        for e in done.journal()
        if e["event"] == "progress" and e["paso"] == "4.3" and not e["stall"]
    ]
    assert len(events) == len(said) and {e["total"] for e in events} == {backup}, events
    read = [e["bytes"] for e in events]
    assert read == sorted(read), read
    # the safety dump says its bound where it is taken: ahead, at Paso 4.0 with the app serving,
    # which Paso 4.1 reuses when no transaction wrote since; or, where the cluster was being
    # written to at Paso 4.0 (the grown tables' autoanalyze takes transaction ids), at Paso 4.1
    dumped = f"  pg_dump {env().database.name}: previsto ≤ "
    ahead, paso_4_1 = between(done.output, "4.0", "2.1"), between(done.output, "4.1", "4.2")
    reused = "taken at Paso 4.0 with the app serving" in paso_4_1
    assert (dumped in ahead and reused) or dumped in paso_4_1, (ahead, paso_4_1)
    trial_said = [
        line
        for line in between(done.output, "1.3", "1.4").splitlines()
        if "restauración de prueba: " in line
    ]
    assert trial_said, between(done.output, "1.3", "1.4")[:3000]
    show(
        request.config,
        f"Paso 4.3 on the sandbox grown by {GROWTH_MB} MB: restore progress",
        [*trial_said, *lines],
    )
