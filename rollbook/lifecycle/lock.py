"""One rollback per environment at a time: a lock on the db host, beside the backups.

`mkdir` is atomic on every filesystem, so the lock is a folder `<backups>/.rollbook-lock` holding
`owner.json` (incident, operator, host, pid, start). Every operator's run sees it. A run that dies
leaves it behind: the next run is refused and told how to restore that incident (§9) or take over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

from rollbook.actions.database.backups import host_time
from rollbook.core import local_process
from rollbook.core.errors import UserError
from rollbook.core.remote_file import write_argv
from rollbook.core.run import Run


def _folder(run: Run) -> str:
    return f"{run.site.env.database.backups}/.rollbook-lock"


def _run(run: Run, argv: list[str], *, mutating: bool, check: bool = True) -> Any:
    with run.site.acting_for("lock"):
        return run.site.first_host("db").run(argv, mutating=mutating, check=check)


ATTEMPTS = 3  # the lock released between our mkdir and our look: try again, a few times
OWNERLESS_GRACE = 60.0  # s: a run writes owner.json right after its mkdir


def holder(run: Run) -> dict[str, Any] | None:
    """Who holds the lock; "?" for what an unreadable or missing owner file (a run killed
    between its mkdir and its write) hides, with the folder's age in seconds."""
    out = _run(run, ["cat", f"{_folder(run)}/owner.json"], mutating=False, check=False)
    if out.ok:
        with contextlib.suppress(ValueError):
            return json.loads(out.stdout)
    made = _run(run, ["stat", "-c", "%Y", _folder(run)], mutating=False, check=False)
    if not made.ok:
        return None
    age = host_time(run.site.first_host("db")) - float(made.stdout.strip() or 0)
    return {"incident": "?", "operator": "?", "host": "?", "started": "?", "age": age}


def is_stale(owner: dict[str, Any]) -> bool:
    """The holder ran on this machine and its process is gone; or it never wrote its owner
    file and the lock is older than a run needs to write one."""
    if owner.get("incident") == "?":
        return float(owner.get("age", 0)) > OWNERLESS_GRACE
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False
    return not local_process.alive(owner["pid"])


def describe(owner: dict[str, Any], run: Run) -> str:
    if owner.get("incident") == "?":
        where = f"({_folder(run)}, made {float(owner.get('age', 0)):.0f} s ago)"
        if not is_stale(owner):
            return (
                f"environment {run.site.env.name} has a lock with no owner yet {where}: another "
                "run is taking it. Wait a minute and run again"
            )
        return (
            f"environment {run.site.env.name} has a stale lock with no owner {where}: a run died "
            "between taking it and writing who it is, so no incident can be restored from it. "
            "If no rollback is running, take it over with --break-lock"
        )
    who = (
        f"incident {owner['incident']} started {owner['started']} by {owner['operator']} "
        f"on {owner['host']}"
    )
    rollback = owner.get("recovers") or owner["incident"]  # a §9 that died: its rollback
    if owner.get("recovers"):
        who += f", a §9 recovery of incident {rollback} that did not finish"
    if is_stale(owner):
        return (
            f"environment {run.site.env.name} has an unfinished rollback: {who} (process "
            f"{owner['pid']} is gone; a command it started may still run, and the recovery "
            "stops it first). Restore it: pytest features/rollback_of_rollback.feature "
            f"--env={run.site.env.name} --incident={rollback} — or take over with --break-lock"
        )
    return (
        f"environment {run.site.env.name} is locked by a rollback in progress: {who}. Wait for it; "
        "if that run is dead, restore its incident with rollback_of_rollback.feature or give "
        "--break-lock"
    )


def acquire(run: Run, break_lock: bool = False, recovers: str | None = None) -> None:
    """Take the lock or refuse with who holds it; --incident may take over its own incident, and
    a §9 run (`recovers`: the rollback it puts back) that of an earlier §9 of the same rollback.
    One line for every failure: a lock held, a folder that cannot be made (missing backups folder,
    no permission, host unreachable)."""
    for _ in range(ATTEMPTS):
        made = _run(run, ["mkdir", _folder(run)], mutating=True, check=False)
        if made.ok:
            break
        owner = holder(run)
        if owner is None:
            if "File exists" in made.stderr:
                continue  # released in between: try again
            said = (made.stderr.strip().splitlines() or [f"exit {made.exit_status}"])[-1]
            raise UserError(
                f"cannot take the rollback lock {_folder(run)} on "
                f"{run.site.first_host('db').spec}: {said} — database.backups must exist there "
                "and be writable by this user; nothing was changed"
            )
        held_for = {owner.get("incident"), owner.get("recovers")} - {None}
        own = bool(held_for & ({run.incident.options.incident, recovers} - {None}))
        if not (break_lock or own):
            raise UserError(describe(owner, run))
        run.incident.journal.write("lock_taken_over", previous=owner, broken=break_lock and not own)
        _seal_old_journal(run, owner)
        break
    else:
        raise UserError(
            f"the rollback lock {_folder(run)} was taken and released {ATTEMPTS} times while "
            "this run tried to take it: another run is starting; run again in a minute"
        )
    mine = {
        "incident": run.incident.id,
        "environment": run.site.env.name,
        "operator": run.incident.options.operator,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    } | ({"recovers": recovers} if recovers else {})
    _run(run, write_argv(json.dumps(mine), f"{_folder(run)}/owner.json"), mutating=True)
    run.incident.journal.write("lock_acquired", lock=_folder(run), owner=mine)
    return None


def _seal_old_journal(run: Run, owner: dict[str, Any]) -> None:
    """The old incident learns nothing more: its journal is sealed in this run's."""
    path = run.incident.options.report_dir / str(owner.get("incident")) / "journal.jsonl"
    if path.is_file() and owner.get("incident") != run.incident.id:
        run.incident.journal.seal(path, str(owner.get("incident")))


def release(run: Run) -> None:
    _run(run, ["rm", "-f", f"{_folder(run)}/owner.json"], mutating=True)
    _run(run, ["rmdir", _folder(run)], mutating=True)
    run.incident.journal.write("lock_released", lock=_folder(run))


def release_if_mine(run: Run) -> None:
    owner = holder(run)
    if owner is not None and owner.get("incident") == run.incident.id:
        release(run)
