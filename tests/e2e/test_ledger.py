"""The release ledger on the real sandbox: which release is the default target, and why."""

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.sandbox.faults import publish_release
from rollbook.sandbox.layout import load_layout
from tests.e2e.releases import deploy_tags
from tests.e2e.sandbox_state import INCIDENT, ROOT, dump, env, run_feature

pytestmark = pytest.mark.e2e
ETAPA1 = ("-m", "etapa1")


def ledger_file() -> Path:
    return Path(env().ledger_file())


def ledger_entries() -> list[dict]:
    return [json.loads(line) for line in ledger_file().read_text().splitlines()]


def never_validated(work: Path) -> None:
    (work / "CHANGELOG").write_text("a release deployed and never validated\n")


def test_the_default_target_is_the_last_validated_release(sandbox_up: None, tmp_path: Path) -> None:
    sandbox.reset()
    stable = deploy_tags()[1]
    # a newer release between the stable and the defective one, never validated
    between = publish_release(load_layout(), never_validated, timedelta(minutes=90))
    assert deploy_tags()[1] == between
    done = run_feature(tmp_path, *INCIDENT, *ETAPA1)
    assert done.code == 0, dump(done)
    target = done.facts()["target"]
    assert target["tag"] == stable
    assert target["reason"].startswith("última versión validada, validada el ")
    assert f"target: {stable}" in done.output and "última versión validada" in done.output
    assert target["packages"] == ledger_entries()[0]["packages"]

    # without a ledger the procedure's rule applies, and the run says so
    saved = ledger_file().read_text()
    ledger_file().unlink()
    try:
        done = run_feature(tmp_path, *INCIDENT, *ETAPA1)
        assert done.facts()["target"]["tag"] == between, dump(done)
        assert "el registro de versiones está vacío" in done.facts()["target"]["reason"]
    finally:
        ledger_file().write_text(saved)

    # a release the ledger marks failed is taken only with --force-target, which is recorded
    failed = {
        "tag": between,
        "commit": "0" * 40,
        "status": "failed",
        "incident": "2026-11-01-0000",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with ledger_file().open("a") as ledger:
        ledger.write(json.dumps(failed) + "\n")
    refused = run_feature(tmp_path, *INCIDENT, f"--target-tag={between}", *ETAPA1)
    assert refused.code != 0
    assert refused.outcome == "ABORTADO — SIN CAMBIOS", dump(refused)
    assert "is marked failed in the release ledger" in refused.output
    assert "--force-target" in refused.output
    forced = run_feature(tmp_path, *INCIDENT, f"--target-tag={between}", "--force-target", *ETAPA1)
    assert forced.code == 0, dump(forced)
    assert forced.facts()["target_forced"]["ledger_status"] == "failed"
    # rollbook ledger: newest first, with status and age
    command = [str(ROOT / ".venv/bin/rollbook"), "ledger", "--env=sandbox"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    listing = out.splitlines()
    assert listing[1].split()[:2] == [between, "failed"]
    assert listing[2].split()[:2] == [stable, "validated"]
