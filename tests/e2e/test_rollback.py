"""The whole procedure on the real sandbox: success, then §9 by hand (failures: test_faults.py)."""

import re
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
from tests.e2e.test_ledger import ledger_entries, ledger_file
from tests.e2e.test_read_only import VALIDATION

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
    stable = releases.deploy_tags()[1]
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
    # the ledger: target chosen as the last validated release, its exact package set installed —
    # sqlparse stays at 0.5.3 although the mirror holds 0.6.1 (resolving again would move it)
    [recorded] = ledger_entries()[:1]
    assert facts["target"]["reason"].startswith("last validated release")
    assert state().packages == recorded["packages"]
    assert "sqlparse==0.5.3" in recorded["packages"]
    assert "pip freeze equals the ledger's record" in str(facts["package_set"])
    assert facts["migrations_vs_ledger"]["result"].startswith("as recorded")
    left, restored = ledger_entries()[1:]
    assert (left["tag"], left["status"], left["incident"]) == (
        releases.deploy_tags()[0], "rolled_back_from", done.folder.name,
    )  # fmt: skip
    assert (restored["tag"], restored["status"]) == (stable, "validated")
    assert restored["packages"] == recorded["packages"]
    # validation --record-release: the ledger append is that run's only write, declared
    check = run_feature(tmp_path, "--env=sandbox", "--record-release", feature=VALIDATION)
    assert check.code == 0, dump(check)
    writes = [e for e in check.journal() if e["event"] == "intent"]
    assert writes and all(e["declared"] and e["paso"] == "ledger" for e in writes)
    assert ledger_entries()[-1]["evidence"] == f"validation run {check.folder.name}"
    kept = ledger_file().read_text()
    # §9 by hand: back to the pre-rollback state recorded by that journal
    again = run_feature(
        tmp_path, "--env=sandbox", f"--incident={done.folder.name}", "--operator=e2e",
        feature="features/rollback_of_rollback.feature",
    )  # fmt: skip
    assert again.code == 0, dump(again)
    assert again.outcome == "ESTADO PREVIO RESTAURADO"
    assert_restored(before, again)
    assert ledger_file().read_text() == kept  # §9 leaves the ledger alone
