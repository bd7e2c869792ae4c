"""The whole procedure on the real sandbox: success, §9 by hand, and failures restored by §9."""

import re
import shutil
from pathlib import Path

import pytest

from tests.e2e import releases
from tests.e2e.sandbox_state import (
    INCIDENT,
    backup_fingerprints,
    dump,
    env,
    git,
    run_feature,
    state,
)
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e

COMPLETED = "ROLLBACK COMPLETADO"
RESTORED = "FALLIDO — ESTADO PREVIO RESTAURADO"


def http_health() -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(env().health.url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def assert_restored(before: object, done: object) -> None:
    after = state()
    assert after.database == before.database, dump(done)
    assert after.head == before.head
    assert after.packages == before.packages
    assert after.services == before.services
    assert after.maintenance == before.maintenance


def test_successful_rollback_then_rollback_of_rollback(sandbox_reset: None, tmp_path: Path) -> None:
    before = state()
    nightly = newest_nightly()
    stable = releases.stable_tag()
    done = run_feature(tmp_path, *INCIDENT)
    assert done.code == 0, dump(done)
    assert done.outcome == COMPLETED
    assert all(status == "passed" for status in done.pasos().values()), dump(done)
    assert done.output.rstrip().splitlines()[-1].count(COMPLETED) == 1  # printed last
    # health 200 at the stable tag, database equal to the nightly backup
    assert http_health() == 200
    assert git("rev-parse", "HEAD") == git("rev-parse", f"{stable}^{{commit}}")
    assert state().database == backup_fingerprints(str(nightly))
    # the incident markdown: template sections, real timeline from the journal, data loss counted
    facts = done.facts()
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    text = markdown.read_text()
    for section in ("## Versiones", "## Timeline", "## Impacto", "## Criterios de Exito"):
        assert section in text
    assert f"Version restaurada: {stable}" in text
    stopped = next(e["ts"] for e in done.journal() if e.get("key") == "services_stopped")
    assert f"{stopped[11:19]} UTC - Servicios detenidos" in text
    lost = facts["data_loss"]["tables"]
    assert sum(lost.values()) > 0  # rows written after the deploy are gone, and counted
    assert re.search(rf"Datos perdidos: SI — {sum(lost.values())} filas", text)
    assert Path(facts["pre_rollback_backup"]["path"]).stat().st_size > 0
    # §9 by hand: back to the pre-rollback state recorded by that journal
    again = run_feature(
        tmp_path, "--env=sandbox", f"--incident={done.folder.name}", "--operator=e2e",
        feature="features/rollback_of_rollback.feature",
    )  # fmt: skip
    assert again.code == 0, dump(again)
    assert again.outcome == "ESTADO PREVIO RESTAURADO"
    assert_restored(before, again)


def corrupt_backup(folder: Path) -> str:
    """A backup that passes the integrity check (header and trailer) but fails part-way."""
    text = newest_nightly().read_text()
    marker = "COPY public.core_order "
    head, sep, tail = text.partition(marker)
    assert sep, "the nightly backup has no core_order data"
    first_line_end = tail.index("\n") + 1
    broken = head + sep + tail[:first_line_end] + "not-a-number\tgarbage\n" + tail[first_line_end:]
    path = folder / "iact_staging_e2e_corrupt.sql"
    path.write_text(broken)
    return str(path)


def test_failure_in_the_restore_puts_everything_back(sandbox_reset: None, tmp_path: Path) -> None:
    backup = corrupt_backup(Path(env().database.backups))
    try:
        before = state()
        done = run_feature(tmp_path, *INCIDENT, f"--backup={backup}")
        assert done.code != 0
        assert done.outcome == RESTORED, dump(done)
        assert done.pasos()["4.3"] == "failed"
        assert done.pasos()["5.1"] == "skipped"
        assert "ESCALAR A TECH LEAD Y DBA" in done.output
        assert_restored(before, done)
    finally:
        Path(backup).unlink()


@pytest.mark.parametrize(
    ("fault", "paso"),
    [(releases.gunicorn_cannot_start, "5.1"), (releases.smoke_test_fails, "6.2")],
    ids=["service-cannot-start", "smoke-test-fails"],
)
def test_failure_after_the_restore_puts_everything_back(
    sandbox_reset: None, tmp_path: Path, fault: object, paso: str
) -> None:
    tag = releases.publish(fault)
    before = state()
    done = run_feature(tmp_path, *INCIDENT, f"--target-tag={tag}")
    assert done.code != 0
    assert done.outcome == RESTORED, dump(done)
    assert done.pasos()[paso] == "failed"
    assert_restored(before, done)
    shutil.rmtree(done.folder)
