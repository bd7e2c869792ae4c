"""Issue 19 on the real sandbox: four-eyes approval bound to the dry-run's plan, a critical
emergency with its approval pending until signed off, and the procedure that ran in the record."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rollbook import cli, sandbox
from rollbook.core.config import environments_dir
from rollbook.governance import provenance
from rollbook.governance.signing import fingerprint
from rollbook.sandbox import instance
from rollbook.sandbox.variant import write_variant
from tests.e2e.sandbox_state import ROOT, Outcome, dump, env, fast, run_feature, state

pytestmark = pytest.mark.e2e

PEOPLE = instance.root(instance.current()) / "people"
OPERATOR = "Olga Ortiz"  # devops: runs the rollback, may not approve it
TECH_LEAD = "Tomás Torres"
NOT_CRITICAL = [
    "--env=sandbox",
    "--reason=Errores 500 en pagos",
    "--severity=ALTO",
    "--users-affected=40",
    "--impact=pagos",
]


@pytest.fixture(scope="module")
def required(sandbox_up: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The sandbox's environment where approval is required (as staging and production)."""

    def change(data: dict) -> None:
        data.update(approval="required")
        fast(data)  # Paso 3.2 asks pip first: the procedure's reinstall is the main test's

    return write_variant(tmp_path_factory.mktemp("governance"), change)


def rollbook(
    *args: str, variables: dict[str, str], checkout: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """`rollbook ARGS` from `checkout` (its own code, this instance's environment files)."""
    variables = {"ROLLBOOK_ENVIRONMENTS": str(environments_dir()), **variables}
    if checkout != ROOT:
        variables["PYTHONPATH"] = str(checkout)
    return subprocess.run(
        [sys.executable, "-m", "rollbook.cli", *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={**os.environ, **variables},
        check=False,
    )


def edited_checkout(folder: Path, edited: str) -> Path:
    """A copy of this checkout's code and procedure where `edited` gained a line: another
    checkout, never this one (the other xdist workers run this one's steps)."""
    for part in provenance.HASHED:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / part)
    with (folder / edited).open("a", encoding="utf-8") as handle:
        handle.write("# edited after the incident\n")
    return folder


def approve(folder: Path, who: str, variables: dict[str, str]) -> Path:
    done = rollbook("approve", str(folder), f"--key={PEOPLE / who}", variables=variables)
    assert done.returncode == 0, done.stderr
    return next((folder / "signoffs").glob("approval-*.json"))


@contextmanager
def agent_holding(key: Path, tmp: Path) -> Iterator[dict[str, str]]:
    """An ssh-agent of this test's own holding `key`; stopped by its PID."""
    socket = tmp / "agent.sock"
    started = subprocess.run(
        ["ssh-agent", "-a", str(socket), "-s"], capture_output=True, text=True, check=True
    ).stdout
    pid = int(started.split("SSH_AGENT_PID=")[1].split(";")[0])
    variables = {"SSH_AUTH_SOCK": str(socket)}
    try:
        subprocess.run(
            ["ssh-add", "-q", str(key)],
            env={**os.environ, **variables},
            check=True,
            capture_output=True,
        )
        yield variables
    finally:
        os.kill(pid, signal.SIGTERM)


def plan(tmp: Path, variables: dict[str, str], *extra: str) -> Outcome:
    done = run_feature(
        tmp, *NOT_CRITICAL, f"--operator={OPERATOR}", "--dry-run", *extra, extra_env=variables
    )
    assert done.outcome == "PLAN — SIN CAMBIOS", dump(done)
    return done


def approved_run(
    tmp: Path, variables: dict[str, str], approval: Path, key: str = "devops_ed25519"
) -> Outcome:
    """The operator proves who they are by their own key (four eyes compares the keys' people)."""
    return run_feature(
        tmp,
        *NOT_CRITICAL,
        f"--signing-key={PEOPLE / key}",
        f"--approval={approval}",
        extra_env=variables,
    )


def test_an_approval_covers_one_plan_and_comes_from_another_person(
    required: dict[str, str], tmp_path: Path
) -> None:
    sandbox.reset()
    start = state()
    planned = plan(tmp_path, required)
    older = sorted(Path(env().database.backups).glob(env().database.backup_pattern))[0]
    other = plan(tmp_path, required, f"--backup={older}")
    assert other.facts()["backup"]["path"] != planned.facts()["backup"]["path"]
    # the operator holds no approving role: `rollbook approve` refuses their key
    own = rollbook(
        "approve", str(planned.folder), f"--key={PEOPLE / 'devops_ed25519'}", variables=required
    )
    assert own.returncode == 1 and "holds no approving role" in own.stderr, own.stderr
    approval = approve(planned.folder, "tech_lead_ed25519", required)
    # signed by the operator themself (the tech lead running it): refused, nothing changed
    selfish = approved_run(tmp_path, required, approval, key="tech_lead_ed25519")
    assert selfish.code != 0 and "four eyes" in selfish.output, dump(selfish)
    # a tech lead's approval of the plan with the other backup does not cover this run's plan
    elsewhere = approve(other.folder, "tech_lead_ed25519", required)
    wrong = approved_run(tmp_path, required, elsewhere)
    assert wrong.code != 0 and "differs in backup" in wrong.output, dump(wrong)
    assert state() == start
    # the approval of the same plan: the rollback runs and its record names approver and plan
    done = approved_run(tmp_path, required, approval)
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    fact = done.facts()["approval"]
    digest = json.loads((planned.folder / "plan.json").read_text())["plan_sha256"]
    assert (fact["status"], fact["approver"], fact["role"]) == ("firmada", TECH_LEAD, "tech_lead")
    assert fact["plan_sha256"] == digest
    markdown = next(done.folder.glob("ROLLBACK-*.md")).read_text()
    # two people, each named with the fingerprint of their own key, and the plan's digest
    lead, operator = (
        fingerprint((PEOPLE / f"{role}_ed25519.pub").read_text())
        for role in ("tech_lead", "devops")
    )
    assert f"firmada por {TECH_LEAD} (tech_lead, clave {lead})" in markdown
    assert digest[:16] in markdown
    # what the approver was shown of the situation is in what they signed, and in the record:
    # the operator's words and what the dry-run's Paso 1.1 observed (the 500s of the health URL)
    signed = json.loads(approval.read_text())
    seen = planned.facts()["symptoms_observed"]
    assert signed["symptoms"] == {
        "declared": "Errores 500 en pagos",
        "severity": "ALTO",
        "observed": seen,
    }, signed
    failing = len(seen["failing"])
    said = f"situación que vio: declarado ALTO: Errores 500 en pagos; observado: {failing} de"
    assert said in markdown, markdown[:3000]
    assert (
        "Síntomas declarados: Errores 500 en pagos (severidad ALTO)"
        in (planned.folder / "plan.md").read_text()
    )
    assert f"Ejecutado por: {OPERATOR} (firma el registro con su clave {operator})" in markdown
    assert (done.folder / "approval" / approval.name).is_file()  # hashed and signed with it
    assert done.facts()["incident"]["operator"] == OPERATOR  # the key's person
    # the same approval by a name only, without the operator's key: refused
    unproven = run_feature(
        tmp_path,
        *NOT_CRITICAL,
        f"--operator={OPERATOR}",
        f"--approval={approval}",
        extra_env=required,
    )
    assert unproven.code != 0 and "needs the operator's own key" in unproven.output


def test_a_critical_emergency_runs_with_the_approval_pending_until_signed_off(
    required: dict[str, str], tmp_path: Path
) -> None:
    sandbox.reset()
    public = tmp_path / "devops.pub"  # the operator's key, its private half only in ssh-agent
    public.write_bytes((PEOPLE / "devops_ed25519.pub").read_bytes())
    with agent_holding(PEOPLE / "devops_ed25519", tmp_path) as variables:
        done = run_feature(
            tmp_path,
            "--env=sandbox",
            "--reason=API caída",
            "--severity=CRITICO",
            f"--signing-key={public}",
            extra_env={**required, **variables},
        )
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    assert done.facts()["incident"]["operator"] == OPERATOR  # the key's person, not self-declared
    assert done.facts()["approval"]["status"] == "pendiente"
    markdown = next(done.folder.glob("ROLLBACK-*.md")).read_text()
    assert "aprobación pendiente" in markdown
    made = done.facts()["provenance"]
    assert made["procedure"] == ["PROCED-BACK-003 v1.0.0"]
    assert "features/rollback.feature" in made["features"]
    assert "PROCED-BACK-003 v1.0.0" in markdown and made["environment"]["sha256"] in markdown
    assert (
        "Estado final: ESTABLE (§8.1 verificado: logs sin errores desde el último inicio"
        in markdown
    )
    assert "; §8.2 pendiente" in markdown
    # §8.2's watch, appended to this record and signed again (a short window on the sandbox)
    watched = run_feature(
        tmp_path,
        "--env=sandbox",
        "--watch=6s",
        f"--incident={done.folder.name}",
        f"--signing-key={PEOPLE / 'devops_ed25519'}",  # the operator signs the record again
        f"--report-dir={done.folder.parent}",
        feature="features/validation.feature",
        extra_env=required,
    )
    assert watched.code == 0, dump(watched)
    assert "§8.2 vigilancia: " in watched.output and "health 200" in watched.output
    markdown = next(done.folder.glob("ROLLBACK-*.md")).read_text()
    assert "- Estado final: ESTABLE (8.2: 6 s sin errores)" in markdown
    copy = Path(str(env().incidents)) / f"ROLLBACK-{done.folder.name}.md"
    assert copy.read_text() == markdown  # the team's copy follows the record it was made from
    assert json.loads((done.folder / "watch-8.2.json").read_text())["errors"] == 0
    verify = ["verify", str(done.folder), "--env=sandbox"]
    before = rollbook(*verify, variables=required)
    assert before.returncode == cli.VERIFY_INCOMPLETE, before.stdout + before.stderr
    assert "aprobación pendiente" in before.stdout
    assert "firmas requeridas pendientes: tech_lead" in before.stdout
    assert "\nINCOMPLETO: aprobación pendiente" in before.stdout
    for role in ("tech_lead", "incident_manager"):
        signed = rollbook(
            "sign-off",
            str(done.folder),
            f"--role={role}",
            f"--key={PEOPLE / f'{role}_ed25519'}",
            variables=required,
        )
        assert signed.returncode == 0, signed.stderr
    signed_off = rollbook(*verify, variables=required)
    assert signed_off.returncode == cli.VERIFY_INCOMPLETE, signed_off.stdout + signed_off.stderr
    assert "firmas requeridas: todas presentes" in signed_off.stdout
    # §7.1's root cause and lessons, §7.3's follow-ups: signed addenda, the record untouched
    items = done.facts()["follow_ups"]["items"]
    assert "pendiente: 1. " + items[0]["action"] in signed_off.stdout
    sums = (done.folder / "SHA256SUMS").read_bytes()
    wrong = rollbook(
        "addendum",
        str(done.folder),
        "--done=1",
        f"--key={PEOPLE / 'tech_lead_ed25519'}",
        variables=required,
    )
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert f"{TECH_LEAD} does not hold the role {items[0]['role']}" in wrong.stderr
    for number, item in enumerate(items, start=1):  # each by its owner's role (devops: Olga)
        key = PEOPLE / f"{item['role']}_ed25519"
        added = rollbook(
            "addendum",
            str(done.folder),
            f"--done={number}",
            "--note=INC-4711",
            f"--key={key}",
            variables=required,
        )
        assert added.returncode == 0, added.stderr
        if number == 1:  # done: no longer among what verify says is open
            partly = rollbook(*verify, variables=required)
            assert partly.returncode == cli.VERIFY_INCOMPLETE
            [still] = [line for line in partly.stdout.splitlines() if line.startswith("INCOMPLETO")]
            assert item["action"] not in still and items[1]["action"] in still, still
            assert f"adenda de {item['owner'].split(' (')[0]} ({item['role']})" in partly.stdout
    for option in ("--root-cause=un índice que faltaba", "--lessons=probar la migración"):
        added = rollbook(
            "addendum",
            str(done.folder),
            option,
            f"--key={PEOPLE / 'tech_lead_ed25519'}",
            variables=required,
        )
        assert added.returncode == 0, added.stderr
    assert (done.folder / "SHA256SUMS").read_bytes() == sums
    after = rollbook(*verify, variables=required)
    assert after.returncode == cli.VERIFY_GOOD, after.stdout + after.stderr
    assert "deberes de cierre: todos hechos" in after.stdout
    assert "causa raíz: un índice que faltaba" in after.stdout
    assert "registro firmado por devops@sandbox.invalid" in after.stdout  # the operator's key
    assert f"firma de {TECH_LEAD} <tech-lead@sandbox.invalid> como tech_lead" in after.stdout
    assert f"refrendada después por {TECH_LEAD}" in after.stdout
    assert "código, features y documento del procedimiento: iguales" in after.stdout
    # a step file edited after the incident: verify, run from that checkout, names it
    changed = edited_checkout(tmp_path / "checkout", "steps/services.py")
    differs = rollbook(*verify, variables=required, checkout=changed)
    assert differs.returncode == cli.VERIFY_DIFFERS, differs.stdout + differs.stderr
    assert "archivo distinto: steps/services.py: differs from this checkout's" in differs.stdout
    assert differs.stdout.count("archivo distinto: ") == 1, differs.stdout
