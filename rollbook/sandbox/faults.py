"""`rollbook sandbox fault NAME`: realistic faults made in the sandbox, for the fault matrix.

The engine has no test hooks: every fault is a change to the sandbox that a real staging server
could have. `rollbook sandbox reset` undoes all of them.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rollbook.core.errors import UserError
from rollbook.sandbox import history, supervisor
from rollbook.sandbox.application import app_environment
from rollbook.sandbox.backups import nightly_dump
from rollbook.sandbox.dates import backup_name, tag_name
from rollbook.sandbox.layout import Layout, load_layout
from rollbook.sandbox.nginx import conf_d
from rollbook.sandbox.postgres import CLUSTER_OWNER, existing_cluster, quote_ident, server_bin
from rollbook.sandbox.shell import IS_ROOT, say

FAULT_RELEASE_AGE = timedelta(minutes=90)  # between the stable (now-3h) and defective (now-1h)
FAULT_PID_PREFIX = "fault-"  # <run>/fault-NAME.pid: a process of a fault, stopped by reset
DBA_SESSION_SECONDS = 1800
BROKEN_SNIPPET = "zz-cache-by-hand.conf"


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    paso: str  # the Paso it makes fail
    make: Callable[[Layout], list[str]]  # returns the extra options the rollback needs, if any
    shows: str = ""  # what the failed Paso's message says of the cause (the operator's clue)


def publish_release(
    layout: Layout, change: Callable[[Path], None], age: timedelta, base: str | None = None
) -> str:
    """A new deploy tag on origin: the stable release (or `base`) with `change` applied, dated
    now - age.

    Never validated, so the ledger's default target stays the stable release: a fault in this
    release is reached by naming it (--target-tag), as an operator would.
    """
    moment = datetime.now(UTC).replace(microsecond=0) - age
    tag = tag_name(moment)
    with tempfile.TemporaryDirectory(dir=layout.origin.parent) as scratch:
        work = Path(scratch) / "work"
        history.git(layout, Path(scratch), "clone", "--quiet", layout.origin, work)
        history.git(layout, work, "checkout", "--quiet", base or history.stable_tag(layout))
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
    """The target release pins, in a file its requirements.txt includes (`-r`), a version the
    internal mirror does not have."""

    def pin(work: Path) -> None:
        lines = (work / "requirements.txt").read_text().splitlines()
        lines = [
            "djangorestframework==3.0.0" if line.startswith("djangorestframework==") else line
            for line in lines
        ]
        (work / "requirements").mkdir(exist_ok=True)
        (work / "requirements" / "base.txt").write_text("\n".join(lines) + "\n")
        (work / "requirements.txt").write_text("-r requirements/base.txt\n")

    tag = publish_release(layout, pin, FAULT_RELEASE_AGE)
    return [f"--target-tag={tag}"]


def release_cannot_boot(layout: Layout) -> list[str]:
    """The target release raises at import: gunicorn cannot start it."""
    tag = publish_release(
        layout,
        lambda work: _append(work / "config" / "wsgi.py", '\nraise RuntimeError("cannot boot")\n'),
        FAULT_RELEASE_AGE,
    )
    return [f"--target-tag={tag}"]


def smoke_test_fails(layout: Layout) -> list[str]:
    """The target release starts and answers, but one of its smoke tests fails."""
    test = '\n\ndef test_checkout_total() -> None:\n    assert 0.1 + 0.2 == 0.3, "rounding"\n'
    tag = publish_release(
        layout, lambda work: _append(work / "tests/smoke/test_critical.py", test), FAULT_RELEASE_AGE
    )
    return [f"--target-tag={tag}"]


def migration_mismatch(layout: Layout) -> list[str]:
    """The target release has a migration the backup never had (a hotfix deployed by hand)."""
    migration = (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("core", "0001_initial")]\n'
        '    operations = [migrations.AddField("order", "note", '
        'models.CharField(max_length=80, blank=True, default=""))]\n'
    )

    tag = publish_release(
        layout,
        lambda work: (work / "core" / "migrations" / "0002_order_note.py").write_text(migration),
        FAULT_RELEASE_AGE,
    )
    return [f"--target-tag={tag}"]


def _spawn(layout: Layout, name: str, argv: list[str], **popen: Any) -> None:
    """A process of the fault's own, in its own process group; reset stops the group."""
    layout.run.mkdir(parents=True, exist_ok=True)
    with open(layout.log / f"fault-{name}.log", "ab") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True, **popen)
    (layout.run / f"{FAULT_PID_PREFIX}{name}.pid").write_text(f"{child.pid}\n")


def port_held(layout: Layout) -> list[str]:
    """A leftover process takes gunicorn's port while the app is stopped, until it is back."""
    head = history.git(layout, layout.app, "rev-parse", "HEAD")
    _spawn(
        layout,
        "port-held",
        [
            sys.executable,
            "-m",
            "rollbook.sandbox.squatter",
            "--port",
            str(layout.ports.gunicorn),
            "--until-head",
            head,
            "--checkout",
            str(layout.app),
        ],
    )
    return []


def stray_worker(layout: Layout) -> list[str]:
    """A celery worker started by hand, outside the service manager: stopping services misses it."""
    celery = layout.venv / "bin" / "celery"
    _spawn(
        layout,
        "stray-worker",
        [
            str(celery),
            "-A",
            layout.env.celery.app,
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "-n",
            "by-hand@%h",
        ],
        cwd=layout.app,
        env=app_environment(layout),
    )
    return []


def _dba_session(layout: Layout, name: str, sql: str) -> None:
    """A superuser's psql on the app's database that ran `sql` and stays connected, idle."""
    cluster = existing_cluster(layout)
    if cluster is None or not cluster.is_running():
        raise UserError("the sandbox's PostgreSQL is not running: rollbook sandbox up")
    psql = shlex.join(
        [
            *(["runuser", "-u", CLUSTER_OWNER, "--"] if IS_ROOT else []),
            str(server_bin() / "psql"),
            "-X",
            "-q",
            "-h",
            str(cluster.socket_dir),
            "-p",
            str(cluster.port),
            "-U",
            CLUSTER_OWNER,
            "-d",
            layout.env.database.name,
        ]
    )
    # stdin stays open (sleep) so the session lives until `rollbook sandbox reset` ends it
    script = f"(printf '%s\\n' {shlex.quote(sql)}; sleep {DBA_SESSION_SECONDS}) | {psql}"
    _spawn(layout, name, ["sh", "-c", script], cwd=cluster.root)


def superuser_session(layout: Layout) -> list[str]:
    """A DBA's console (a superuser) on the app's database: the app's role may not end it."""
    _dba_session(layout, "superuser-session", "SELECT 1;")
    return []


def table_locked(layout: Layout) -> list[str]:
    """A DBA's unfinished maintenance holds a reporting table locked: pg_dump waits forever."""
    owner = quote_ident(layout.env.database.user)
    cluster = existing_cluster(layout)
    assert cluster is not None
    cluster.sql(
        f"\\connect {layout.env.database.name}\n"
        f"CREATE SCHEMA IF NOT EXISTS reporting AUTHORIZATION {owner};\n"
        "CREATE TABLE IF NOT EXISTS reporting.daily_totals (day date PRIMARY KEY, total numeric);\n"
        f"ALTER TABLE reporting.daily_totals OWNER TO {owner};\n"
    )
    _dba_session(
        layout, "table-locked", "BEGIN; LOCK TABLE reporting.daily_totals IN ACCESS EXCLUSIVE MODE;"
    )
    return []


def hand_edited_checkout(layout: Layout) -> list[str]:
    """Someone hot-patched a deployed file on the server and never committed it: a checkout of
    the target would overwrite it, so git refuses (and a rollback must not force it)."""
    _append(layout.app / "core" / "health.py", "\n# hotfix applied by hand on the server\n")
    return []


def nginx_config_error(layout: Layout) -> list[str]:
    """Someone left a broken file in nginx's conf.d, never reloaded: the next reload would fail."""
    (conf_d(layout) / BROKEN_SNIPPET).write_text(
        "# edited by hand, never tested\nproxy_cache_path /var/tmp/cache keys_zone=app:10m\n"
    )
    return []


def release_nginx_error(layout: Layout) -> list[str]:
    """The target release ships an nginx location with a syntax error (checked only on reload)."""

    def ship(work: Path) -> None:
        (work / "deploy" / "nginx").mkdir(parents=True)
        (work / "deploy" / "nginx" / "media.conf").write_text(
            "location /media/ {\n    alias /srv/media/\n}\n"
        )

    tag = publish_release(layout, ship, FAULT_RELEASE_AGE)
    return [f"--target-tag={tag}"]


def static_missing(layout: Layout) -> list[str]:
    """The target release hashes its static files and one stylesheet names a missing image."""

    def ship(work: Path) -> None:
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            },
        }
        _append(work / "config" / "settings" / "staging.py", f"\nSTORAGES = {storages!r}\n")
        css = work / "core" / "static" / "core" / "receipt.css"
        css.write_text('.receipt { background: url("img/receipt-logo.png"); }\n')

    tag = publish_release(layout, ship, FAULT_RELEASE_AGE)
    return [f"--target-tag={tag}"]


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
    tag = history.stable_tag(layout)
    history.git(layout, layout.origin, "tag", "-d", tag)
    history.git(layout, layout.app, "tag", "-d", tag)
    return [f"--target-tag={tag}"]


FAULTS = {
    fault.name: fault
    for fault in (
        Fault("corrupt-backup", "backup corrupt past a valid header", "4.3", corrupt_backup),
        Fault("stray-worker", "a celery worker started by hand", "2.2", stray_worker),
        Fault("nginx-config-error", "a broken file in nginx's conf.d", "2.3", nginx_config_error),
        Fault(
            "hand-edited-checkout",
            "a deployed file edited by hand, not committed",
            "3.1",
            hand_edited_checkout,
        ),
        Fault(
            "static-missing",
            "a stylesheet of the target names a missing image",
            "3.3",
            static_missing,
        ),
        Fault(
            "table-locked",
            "a DBA session holds a table lock: the safety pg_dump hangs (Paso "
            "4.0's, before the stop)",
            "4.0",
            table_locked,
        ),
        Fault(
            "superuser-session",
            "a superuser session the app role cannot end",
            "4.2",
            superuser_session,
        ),
        Fault(
            "release-nginx-error",
            "the target ships a broken nginx location",
            "5.3",
            release_nginx_error,
        ),
        Fault(
            "missing-wheel",
            "target pins (in an -r include) a version the mirror lacks",
            "1.2",
            missing_wheel,
            shows="djangorestframework==3.0.0",
        ),
        Fault(
            "migration-mismatch",
            "target has a migration the backup lacks",
            "1.3",
            migration_mismatch,
            shows="is not a backup of this application at the target",
        ),
        Fault("port-held", "another process holds gunicorn's port", "5.1", port_held),
        Fault(
            "release-cannot-boot",
            "target release fails at import",
            "5.1",
            release_cannot_boot,
            shows="RuntimeError: cannot boot",
        ),
        Fault(
            "broker-down",
            "the celery broker is down",
            "5.2",
            broker_down,
            shows="the workers have no broker",
        ),
        Fault(
            "smoke-test-fails",
            "a smoke test fails at the target",
            "6.2",
            smoke_test_fails,
            shows="AssertionError: rounding",
        ),
        Fault("no-createdb", "the role lacks CREATEDB", "1.3", no_createdb),
        Fault("tag-missing", "the target tag is gone from origin", "1.2", tag_missing),
    )
}


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
    """Undo what reset does not rebuild by itself: the faults' processes, files outside the app."""
    for pidfile in layout.run.glob(f"{FAULT_PID_PREFIX}*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pidfile.read_text().strip()), signal.SIGKILL)
        pidfile.unlink()
    (conf_d(layout) / BROKEN_SNIPPET).unlink(missing_ok=True)
    lock = layout.backups / ".rollbook-lock"
    if lock.is_dir():
        shutil.rmtree(lock)
