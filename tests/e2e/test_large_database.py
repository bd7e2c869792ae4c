"""The sandbox grown to 1 GB: while Paso 4.3's psql reads the backup, the console says how far it
is (percentage, elapsed, ETA) and the journal keeps each line as a progress event; the lines are
repeated at the end of the e2e output, where a reader of CI sees them."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.sandbox import bulk
from tests.conftest import show
from tests.e2e.sandbox_state import INCIDENT, connect, dump, run_feature
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e

GROWTH_MB = 1024
# "  psql iact_staging: 39% (291 MB de 754 MB), 2 s, ETA 3 s"
LINE = re.compile(r"^  psql \S+: (\d+)% \((\d+) MB de (\d+) MB\), (\d+) s, ETA (\d+) s$", re.M)


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


def test_the_restore_of_a_1_gb_database_says_how_far_it_is(
    grown: None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with connect() as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert size is not None and size[0] >= 2**30, size
    backup = newest_nightly().stat().st_size
    done = run_feature(tmp_path, *INCIDENT)
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    paso = done.output.split("▶ Paso 4.3", 1)[1].split("▶ Paso 4.4", 1)[0]
    said = LINE.findall(paso)
    assert said, paso[:3000]
    shares = [int(share) for share, *_ in said]
    assert all(0 < s <= 100 for s in shares) and shares == sorted(shares), said
    assert {int(total) for *_, total, _, _ in said} == {round(backup / 2**20)}, (said, backup)
    events = [e for e in done.journal()
              if e["event"] == "progress" and e["paso"] == "4.3" and not e["stall"]]  # fmt: skip
    assert len(events) == len(said) and {e["total"] for e in events} == {backup}, events
    read = [e["bytes"] for e in events]
    assert read == sorted(read) and read[0] > 0 and read[-1] <= backup, read
    show(request.config, f"Paso 4.3 on the sandbox grown by {GROWTH_MB} MB: restore progress",
         [line for line in paso.splitlines() if LINE.match(line)])  # fmt: skip
