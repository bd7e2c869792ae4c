"""`rollbook sandbox fault NAME`: realistic faults made in the sandbox, for the fault matrix.

The engine has no test hooks: every fault is a change to the sandbox that a real staging server
could have. `rollbook sandbox reset` undoes all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rollbook.errors import UserError
from rollbook.sandbox import history, supervisor
from rollbook.sandbox.backups import nightly_dump
from rollbook.sandbox.layout import Layout, load_layout
from rollbook.sandbox.postgres import existing_cluster, quote_ident
from rollbook.sandbox.shell import say
from rollbook.sandbox.timeline import backup_name, tag_name

FAULT_RELEASE_AGE = timedelta(minutes=90)  # between the stable (now-3h) and defective (now-1h)
SQUATTER_PID = "squatter.pid"


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    paso: str  # the Paso it makes fail
    make: Callable[[Layout], list[str]]  # returns the extra options the rollback needs, if any


def stable_tag(layout: Layout) -> str:
    return json.loads((layout.state / history.RELEASES_FILE).read_text())["stable"]


def publish_release(layout: Layout, change: Callable[[Path], None], age: timedelta) -> str:
    """A new deploy tag on origin: the stable release with `change` applied, dated now - age."""
    moment = datetime.now(UTC).replace(microsecond=0) - age
    tag = tag_name(moment)
    with tempfile.TemporaryDirectory(dir=layout.origin.parent) as scratch:
        work = Path(scratch) / "work"
        history.git(layout, Path(scratch), "clone", "--quiet", layout.origin, work)
        history.git(layout, work, "checkout", "--quiet", stable_tag(layout))
        change(work)
        history.git(layout, work, "add", "--all")
        history.git(layout, work, "commit", "--quiet", "-m", f"Release {tag}", moment=moment)
        history.git(layout, work, "tag", "-a", tag, "-m", f"Deploy {tag}", moment=moment)
        history.git(layout, work, "push", "--quiet", "origin", tag)
    history.git(layout, layout.app, "fetch", "--quiet", "--tags", "origin")
    return tag


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def corrupt_backup(layout: Layout) -> list[str]:
    """The newest backup before the deploy passes the integrity check but fails part-way."""
    text = nightly_dump(layout).read_text(encoding="utf-8")
    marker = "COPY public.core_order "
    head, sep, tail = text.partition(marker)
    cut = tail.index("\n") + 1
    moment = datetime.now(UTC) - FAULT_RELEASE_AGE
    path = layout.backups / backup_name(layout.env.database.name, moment)
    path.write_text(head + sep + tail[:cut] + "not-a-number\tgarbage\n" + tail[cut:])
    path.chmod(0o600)
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    return []


def missing_wheel(layout: Layout) -> list[str]:
    """The target release pins a version the internal mirror does not have."""

    def pin(work: Path) -> None:
        requirements = work / "requirements.txt"
        lines = requirements.read_text().splitlines()
        lines = [
            "djangorestframework==3.0.0" if line.startswith("djangorestframework==") else line
            for line in lines
        ]
        requirements.write_text("\n".join(lines) + "\n")

    publish_release(layout, pin, FAULT_RELEASE_AGE)
    return []


def release_cannot_boot(layout: Layout) -> list[str]:
    """The target release raises at import: gunicorn cannot start it."""
    publish_release(
        layout,
        lambda work: _append(work / "config" / "wsgi.py", '\nraise RuntimeError("cannot boot")\n'),
        FAULT_RELEASE_AGE,
    )
    return []


def smoke_test_fails(layout: Layout) -> list[str]:
    """The target release starts and answers, but one of its smoke tests fails."""
    test = '\n\ndef test_checkout_total() -> None:\n    assert 0.1 + 0.2 == 0.3, "rounding"\n'
    publish_release(
        layout, lambda work: _append(work / "tests/smoke/test_critical.py", test), FAULT_RELEASE_AGE
    )
    return []


def migration_mismatch(layout: Layout) -> list[str]:
    """The target release has a migration the backup never had (a hotfix deployed by hand)."""
    migration = (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("core", "0001_initial")]\n'
        '    operations = [migrations.AddField("order", "note", '
        'models.CharField(max_length=80, blank=True, default=""))]\n'
    )

    publish_release(
        layout,
        lambda work: (work / "core" / "migrations" / "0002_order_note.py").write_text(migration),
        FAULT_RELEASE_AGE,
    )
    return []


def port_held(layout: Layout) -> list[str]:
    """A leftover process takes gunicorn's port while the app is stopped, until it is back."""
    layout.run.mkdir(parents=True, exist_ok=True)
    log = open(layout.log / "squatter.log", "ab")  # noqa: SIM115 (handed to the child)
    head = history.git(layout, layout.app, "rev-parse", "HEAD")
    child = subprocess.Popen(
        [sys.executable, "-m", "rollbook.sandbox.squatter", "--port", str(layout.ports.gunicorn),
         "--until-head", head, "--checkout", str(layout.app)],
        stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    (layout.run / SQUATTER_PID).write_text(f"{child.pid}\n")
    return []


def broker_down(layout: Layout) -> list[str]:
    """The celery broker (redis) is down."""
    supervisor.stop_running(layout, ["redis"])
    return []


def no_createdb(layout: Layout) -> list[str]:
    """The application role lost CREATEDB: Paso 4.3 could drop the database and not create it."""
    cluster = existing_cluster(layout)
    if cluster is None or not cluster.is_running():
        raise UserError("the sandbox's PostgreSQL is not running: rollbook sandbox up")
    cluster.sql(f"ALTER ROLE {quote_ident(layout.env.database.user)} NOCREATEDB")
    return []


def tag_missing(layout: Layout) -> list[str]:
    """The target tag was deleted from origin (and from the server)."""
    tag = stable_tag(layout)
    history.git(layout, layout.origin, "tag", "-d", tag)
    history.git(layout, layout.app, "tag", "-d", tag)
    return [f"--target-tag={tag}"]


FAULTS = {
    fault.name: fault
    for fault in (
        Fault("corrupt-backup", "backup corrupt past a valid header", "4.3", corrupt_backup),
        Fault("missing-wheel", "target pins a version the mirror lacks", "3.2", missing_wheel),
        Fault("migration-mismatch", "target has a migration the backup lacks", "4.4",
              migration_mismatch),
        Fault("port-held", "another process holds gunicorn's port", "5.1", port_held),
        Fault("release-cannot-boot", "target release fails at import", "5.1",
              release_cannot_boot),
        Fault("broker-down", "the celery broker is down", "5.2", broker_down),
        Fault("smoke-test-fails", "a smoke test fails at the target", "6.2", smoke_test_fails),
        Fault("no-createdb", "the role lacks CREATEDB", "1.3", no_createdb),
        Fault("tag-missing", "the target tag is gone from origin", "1.2", tag_missing),
    )
}  # fmt: skip


def make_fault(name: str) -> list[str]:
    """Make the fault; return the options the rollback needs (e.g. --target-tag)."""
    if name not in FAULTS:
        raise UserError(f"unknown fault {name!r}: choose one of {', '.join(FAULTS)}")
    layout = load_layout()
    options = FAULTS[name].make(layout)
    say(
        f"fault {name}: {FAULTS[name].what}"
        + (f" — run with {' '.join(options)}" if options else "")
    )
    return options


def clear_faults(layout: Layout) -> None:
    """Undo what reset does not rebuild by itself: a port squatter still waiting."""
    pidfile = layout.run / SQUATTER_PID
    if pidfile.is_file():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        pidfile.unlink()
    lock = layout.backups / ".rollbook-lock"
    if lock.is_dir():
        shutil.rmtree(lock)
