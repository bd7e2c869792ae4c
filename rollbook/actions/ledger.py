"""The release ledger: on the target, beside the app, one JSON line per release seen.

`<app path>/../.rollbook/ledger.jsonl` (or `app.ledger` in the YAML), on the first app host.
Append-only; every append holds `flock` on `<ledger>.lock`, so two writers never interleave, and is
one `printf >>` of a single line; a torn last line (a writer killed mid-write) is skipped on read.
An entry: tag, commit, time, status (validated | failed | rolled_back_from), the exact package set
of the app's venv (`pip freeze`), hashes of the requirements file and of the static files, the
applied migrations in plan order, the database's django_migrations rows (squashed migrations
and the ones they replace alike: what a backup taken then holds), and, for a rollback, the incident.
"""

from __future__ import annotations

import json
import posixpath
from datetime import UTC, datetime
from typing import Any

from rollbook.actions import release
from rollbook.actions.database import backups
from rollbook.actions.static import static_root
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.remote_file import write_argv
from rollbook.core.resources import Checkout, Venv
from rollbook.core.site import Site

# a fixed script; the folder is a positional argument, never part of it
_STATIC_HASH = 'find "$1" -type f -printf "%P %s\\n" | LC_ALL=C sort | sha256sum'


def read(host: Host, file: str) -> list[dict[str, Any]]:
    """The ledger's entries (it lives on the first app host), oldest first; [] when there is no
    ledger yet."""
    out = host.run(["cat", file], mutating=False, check=False, app=True)
    if not out.ok:
        if "No such file" in out.stderr:
            return []
        reason = host.describe_failure(out)
        raise StepFailed(f"cannot read the release ledger: {reason}")
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


def add(host: Host, file: str, entry: dict[str, Any], *, declared: bool = False) -> None:
    """One line, under the ledger's lock. `declared`: the one write a read-only run may make."""
    with host.acting_for("ledger"):  # journaled apart from the Pasos
        host.run(
            ["mkdir", "-p", posixpath.dirname(file)], mutating=True, declared=declared, app=True
        )
        argv = write_argv(encode(entry), file, append=True, lock=f"{file}.lock")
        out = host.run(argv, mutating=True, declared=declared, check=False, app=True)
    if not out.ok:  # the entry itself is in the journal's command line: not repeated here
        said = out.stderr.strip() or f"exit {out.exit_status}"
        raise StepFailed(f"{host.spec}: cannot append to the release ledger {file}: {said}")


def append(
    incident: Incident, site: Site, entry: dict[str, Any], *, declared: bool = False
) -> None:
    """The entry added to the run's ledger, and recorded as a fact of the run."""
    file = site.env.ledger_file()
    add(site.first_host("app"), file, entry, declared=declared)
    incident.note("ledger_appended", tag=entry.get("tag"), status=entry["status"], path=file)


def describe_deployed(site: Site) -> dict[str, Any]:
    """What the deployed release runs with, read from the first app host."""
    host, app = site.first_host("app"), site.env.app
    deployed = release.deployed_release(Checkout(host, app.path), app.tags)
    requirements = site.env.app_file(app.requirements)
    digest = host.run(["sha256sum", requirements], mutating=False, check=False, app=True)
    static = host.run(
        ["sh", "-c", _STATIC_HASH, "sh", static_root(site.env)],
        mutating=False,
        check=False,
        app=True,
    )
    venv = Venv(host, app)
    return {
        "tag": deployed.tag,
        "commit": deployed.commit,
        "packages": venv.freeze(),
        "requirements_sha256": digest.stdout.split()[0] if digest.ok and digest.stdout else None,
        "static_sha256": static.stdout.split()[0] if static.ok and static.stdout else None,
        "migrations": applied_migrations(venv),
        "migration_rows": migration_rows(site),
    }


def migration_rows(site: Site) -> list[str] | None:
    """The database's django_migrations rows (app.name), sorted; None when the environment's
    marker table is another or the table cannot be read."""
    if site.env.database.marker_table != backups.DJANGO_MIGRATIONS:
        return None
    out = site.postgres().run(
        "psql",
        "-X",
        "-A",
        "-t",
        "-d",
        site.env.database.name,
        "-c",
        backups.MIGRATION_ROWS,
        mutating=False,
        check=False,
    )
    return sorted(out.stdout.split()) if out.ok else None


def applied_migrations(venv: Venv) -> list[str]:
    """`showmigrations --plan`: the applied migrations (app.name), in the order they apply."""
    return parse_plan(venv.manage("showmigrations", "--plan", mutating=False).stdout)


def parse_plan(showmigrations_plan: str) -> list[str]:
    """The applied migrations of `showmigrations --plan` output, in plan order."""
    lines = showmigrations_plan.splitlines()
    return [line.split()[-1] for line in lines if line.strip().startswith("[X]")]


def entry(operator: str, status: str, facts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A ledger line `operator` writes now."""
    return new_entry(status, facts, operator, datetime.now(UTC), **extra)


def new_entry(
    status: str, facts: dict[str, Any], by: str, time: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        **facts,
        "status": status,
        "time": time.isoformat(timespec="seconds"),
        "by": by,
        **extra,
    }


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
