"""Before Etapa 2: could the database go back by reversing migrations, or must it be restored?

The database's applied migrations (showmigrations --plan, deployed code) against the target
release's: the ledger's record of its plan (every app, installed packages' too: a third-party
app's migrations live in site-packages), else the migration files of its tree (git), for the apps
whose migrations live in the repository. When the target's set is all applied and every extra
migration reverses (`migrate APP TO --plan` names no IRREVERSIBLE operation), a code-only rollback
plus those `migrate` commands would do, keeping the rows written since the deploy. The choice
stays the operator's: the procedure's restore remains the default; the report records the
classification.
"""

from __future__ import annotations

import re
from typing import Any

from rollbook.actions import ledger
from rollbook.core.errors import StepFailed
from rollbook.core.resources import Checkout, Venv
from rollbook.core.run import Run

_MIGRATION_FILE = re.compile(r"(?:^|/)([^/]+)/migrations/(\d{4}[^/]*)\.py$")


def migrations_in_tree(tree: Checkout, ref: str) -> list[str] | None:
    """The migrations in the release's tree; None when the release is not fetched here yet."""
    listed = tree.git("ls-tree", "-r", "--name-only", ref, check=False)
    if not listed:
        return None
    found = (_MIGRATION_FILE.search(name) for name in listed.splitlines())
    return sorted(f"{m.group(1)}.{m.group(2)}" for m in found if m)


def classify(run: Run) -> dict[str, Any]:
    host = run.first_host("app")
    tree, venv = Checkout(host, run.env.app.path), Venv(host, run.env.app)
    target = run.fact("target")
    ref = target.get("commit") or target["tag"]
    try:
        applied = ledger.applied_migrations(venv)
    except StepFailed as exc:  # the deployed release may be what is broken: restore, as written
        return _plan(run, "unknown", [], [], [], f"the deployed release's manage.py failed: {exc}")
    recorded = target.get("migrations")
    target_files = recorded or migrations_in_tree(tree, ref)
    if target_files is None:
        return _plan(run, "unknown", [], [], [], f"{ref} is not fetched on {host.spec} yet")
    deployed_files = [] if recorded else migrations_in_tree(tree, "HEAD") or []
    apps = {name.split(".")[0] for name in deployed_files + target_files}
    own = [m for m in applied if recorded or m.split(".")[0] in apps]
    extra = [m for m in own if m not in target_files]
    missing = [m for m in target_files if m not in applied]
    if missing:
        why = f"the target has migrations the database never applied: {missing}"
        return _plan(run, "restore", extra, [], missing, why)
    if not extra:
        return _plan(run, "same", [], [], [], "the target applies the same migrations")
    commands, irreversible = [], []
    for app in sorted({m.split(".")[0] for m in extra}):
        kept = [m.split(".", 1)[1] for m in target_files if m.startswith(f"{app}.")]
        to = kept[-1] if kept else "zero"
        out = venv.manage("migrate", app, to, "--plan", mutating=False).stdout
        commands.append(f"python {run.env.app.manage} migrate {app} {to}")
        if "IRREVERSIBLE" in out:
            irreversible.append(app)
    if irreversible:
        return _plan(run, "restore", extra, [], [],
                     f"migrations of {irreversible} cannot be reversed")  # fmt: skip
    return _plan(run, "reversible", extra, commands, [],
                 "a code-only rollback plus these commands would do and keep the rows written "
                 "since the deploy; the procedure restores the backup")  # fmt: skip


def _plan(
    run: Run, kind: str, extra: list[str], commands: list[str], missing: list[str], why: str
) -> dict[str, Any]:
    fact = run.record(
        "migration_plan", kind=kind, extra=extra, commands=commands, missing=missing, why=why
    )
    run.say(f"migrations: {kind} — {why}" + (f": {'; '.join(commands)}" if commands else ""))
    return fact
