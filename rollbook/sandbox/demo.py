"""`make demo` (`rollbook sandbox demo`): the procedure on the sandbox the way a team runs it
with four eyes. The operator plans (a dry-run), the sandbox's Tech Lead approves that plan with
their own key (`rollbook approve`), and the operator, Olga Ortiz of the sandbox's people, runs
the rollback with that approval and signs the record with her own key: the record names both
people, their roles, their keys' fingerprints and the plan's digest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rollbook.core.config import load_environment
from rollbook.governance import approval
from rollbook.sandbox import instance
from rollbook.sandbox.shell import say

REPO = instance.REPO
ENVIRONMENT = "sandbox-demo"  # sandbox.yaml with the document's 120 s log watch (Paso 6.4)
INCIDENT = [
    f"--env={ENVIRONMENT}",
    "--reason=Health 500 tras el deploy",
    "--severity=CRITICO",
    "--impact=API caida para todos los usuarios",
]
APPROVER, OPERATOR = "tech_lead", "devops"  # the roles of the sandbox's people who act


def _pytest(reports: Path, *args: str) -> int:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "features/rollback.feature",
        *INCIDENT,
        f"--report-dir={reports}",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    say(" ".join(argv[1:]))
    return subprocess.run(argv, cwd=REPO, env=dict(os.environ), check=False).returncode


def run(reports: Path = REPO / "reports") -> int:
    """Plan, approve, roll back; the rollback's pytest exit code."""
    keys = instance.root(instance.current()) / "people"
    before = set(reports.glob("*")) if reports.is_dir() else set()
    say("the operator plans the rollback (a dry-run: nothing changes) ...")
    planned = _pytest(reports, "--dry-run", "-q")
    made = sorted(set(reports.glob("*")) - before)
    if planned != 0 or len(made) != 1:
        say(f"the dry-run did not end with a plan (exit {planned}): read its report above")
        return planned or 1
    env = load_environment(ENVIRONMENT)
    signed = approval.approve(made[0], env, str(keys / f"{APPROVER}_ed25519"), APPROVER)
    digest = signed.statement["plan_sha256"][:16]
    say(
        f"{signed.person.name} ({APPROVER}) approved the plan {digest} with their own key: "
        f"{signed.path}"
    )
    say("the operator rolls back with that approval, signing the record with her own key ...")
    return _pytest(
        reports, f"--approval={signed.path}", f"--signing-key={keys / f'{OPERATOR}_ed25519'}", "-v"
    )
