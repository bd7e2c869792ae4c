"""The release ledger: on the target, beside the app, one JSON line per release seen.

`<app path>/../.rollbook/ledger.jsonl` (or `app.ledger` in the YAML), on the first app host.
Append-only; every append holds `flock` on `<ledger>.lock`, so two writers never interleave, and is
one `printf >>` of a single line; a torn last line (a writer killed mid-write) is skipped on read.
An entry: tag, commit, time, status (validated | failed | rolled_back_from), the exact package set
of the app's venv (`pip freeze`), hashes of the requirements file and of the static files, the
applied migrations in plan order, and, for a rollback, the incident.
"""

from __future__ import annotations

import json
import posixpath
from datetime import UTC, datetime
from typing import Any

from rollbook.actions import code, release
from rollbook.core import inventory
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.executor import Executor
from rollbook.core.remote_file import write_argv
from rollbook.core.run import Run

# a fixed script; the folder is a positional argument, never part of it
_STATIC_HASH = 'find "$1" -type f -printf "%P %s\\n" | LC_ALL=C sort | sha256sum'


def _spec(run: Run) -> str:
    return run.hosts("app")[0]


def read(run: Run) -> list[dict[str, Any]]:
    """Every entry, oldest first; [] when there is no ledger yet."""
    return read_from(run.executor, run.env, _spec(run))


def read_from(
    executor: Executor, env: Environment, spec: str | None = None
) -> list[dict[str, Any]]:
    """The ledger's entries, read on `spec` (default: the first app host, where it lives)."""
    spec = spec or inventory.expand("app", env.hosts["app"])[0]
    out = executor.run(spec, ["cat", env.ledger_file()], mutating=False, check=False)
    if not out.ok:
        if "No such file" in out.stderr:
            return []
        raise StepFailed(f"cannot read the release ledger: {executor.describe_failure(out)}")
    entries = []
    for line in out.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line of a writer that died: the lines around it are whole
        if isinstance(entry, dict) and entry.get("status") and entry.get("commit"):
            entries.append(entry)
    return entries


def latest(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest entry of each tag (a later status overrides an earlier one)."""
    return {str(e["tag"]): e for e in entries if e.get("tag")}


def append(run: Run, entry: dict[str, Any], *, declared: bool = False) -> None:
    """One line, under the ledger's lock. `declared`: the one write a read-only run may make."""
    spec, file = _spec(run), run.env.ledger_file()
    line = encode(entry)
    with run.executor.acting_for("ledger"):  # journaled apart from the Pasos
        mkdir = ["mkdir", "-p", posixpath.dirname(file)]
        run.executor.run(spec, mkdir, mutating=True, declared=declared)
        argv = write_argv(line, file, append=True, lock=f"{file}.lock")
        run.executor.run(spec, argv, mutating=True, declared=declared)
    run.record("ledger_appended", tag=entry.get("tag"), status=entry["status"], path=file)


def describe_deployed(run: Run) -> dict[str, Any]:
    """What the deployed release runs with, read from the first app host."""
    spec = _spec(run)
    deployed = release.deployed_release(run, spec)
    requirements = run.env.app_file(run.env.app.requirements)
    digest = run.executor.run(spec, ["sha256sum", requirements], mutating=False, check=False)
    static = run.executor.run(spec, ["sh", "-c", _STATIC_HASH, "sh", code.static_root(run)],
                              mutating=False, check=False)  # fmt: skip
    return {
        "tag": deployed.tag,
        "commit": deployed.commit,
        "packages": code.pip_freeze(run, spec),
        "requirements_sha256": digest.stdout.split()[0] if digest.ok and digest.stdout else None,
        "static_sha256": static.stdout.split()[0] if static.ok and static.stdout else None,
        "migrations": applied_migrations(run),
    }


def applied_migrations(run: Run) -> list[str]:
    """`showmigrations --plan`: the applied migrations (app.name), in the order they apply."""
    argv = [f"{run.env.app.venv}/bin/python", run.env.app.manage, "showmigrations", "--plan"]
    out = run.executor.run(
        _spec(run), argv, mutating=False, cwd=run.env.app.path, env=run.env.app.env
    ).stdout
    return parse_plan(out)


def parse_plan(showmigrations_plan: str) -> list[str]:
    """The applied migrations of `showmigrations --plan` output, in plan order."""
    lines = showmigrations_plan.splitlines()
    return [line.split()[-1] for line in lines if line.strip().startswith("[X]")]


def entry(run: Run, status: str, facts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return new_entry(status, facts, run.options.operator, datetime.now(UTC), **extra)


def new_entry(
    status: str, facts: dict[str, Any], by: str, time: datetime, **extra: Any
) -> dict[str, Any]:
    return {**facts, "status": status, "time": time.isoformat(timespec="seconds"), "by": by,
            **extra}  # fmt: skip


def encode(entry: dict[str, Any]) -> str:
    """One ledger line."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"))


def age(entry: dict[str, Any], now: datetime | None = None) -> str:
    then = datetime.fromisoformat(str(entry["time"]))
    seconds = ((now or datetime.now(UTC)) - then).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
