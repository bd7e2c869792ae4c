"""The nightly backups of the procedure's Paso 1.3: plain-SQL pg_dumps in database.backups.

The dump of the stable state is taken once (as the app's role, like the procedure does) and
cached; every reset lays it out again under names and mtimes relative to now.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rollbook.sandbox.credentials import database_password
from rollbook.sandbox.dates import Timeline, backup_name
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.postgres import server_bin
from rollbook.sandbox.shell import say

NIGHTLY_DUMP = "nightly.sql"
SAFETY_BACKUPS = "pre_rollback_*"


def nightly_dump(layout: Layout) -> Path:
    return layout.cache / NIGHTLY_DUMP


def dump_stable_state(layout: Layout) -> None:
    say(f"dumping the stable state of {layout.env.database.name} (the nightly backup) ...")
    dump_database(layout, layout.env.database.name, nightly_dump(layout))


def dump_database(layout: Layout, name: str, path: Path) -> None:
    """pg_dump of one database as the app's role, over TCP, like the procedure's backups."""
    db = layout.env.database
    path.parent.mkdir(parents=True, exist_ok=True)
    layout.shell.run(
        [
            server_bin() / "pg_dump",
            *db.client_args(),
            "-d",
            name,
            "-f",
            path,
        ],
        env={**os.environ, "PGPASSWORD": database_password(layout)},
    )


def lay_out_backups(layout: Layout, timeline: Timeline) -> None:
    """Remove safety and nightly backups; put the nightly (now-2h) and a too-old one (now-30h)."""
    layout.backups.mkdir(mode=0o700, parents=True, exist_ok=True)
    for pattern in (SAFETY_BACKUPS, layout.env.database.backup_pattern):
        for stale in layout.backups.glob(pattern):
            if stale.is_file():
                stale.unlink()
    for moment in (timeline.nightly_backup, timeline.old_backup):
        backup = layout.backups / backup_name(layout.env.database.name, moment)
        shutil.copyfile(nightly_dump(layout), backup)
        backup.chmod(0o600)
        os.utime(backup, (moment.timestamp(), moment.timestamp()))


def newest_backup(layout: Layout) -> Path | None:
    found = [p for p in layout.backups.glob(layout.env.database.backup_pattern) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)
