"""The sandbox's release ledger: the stable release was validated when it was deployed, with the
packages it ran with — among them sqlparse 0.5.3, older than the 0.6 the mirror holds now, so a
rollback that resolves requirements again moves it and one that follows the ledger does not."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from rollbook.actions import ledger
from rollbook.actions.release import VALIDATED
from rollbook.core.resources import parse_freeze
from rollbook.sandbox import history
from rollbook.sandbox.application import manage
from rollbook.sandbox.dates import Timeline
from rollbook.sandbox.layout import Layout

STABLE_RECORD = "stable-release.json"
# an unpinned transitive dependency: what the stable release ran with; the wheelhouse has newer
HELD_BACK = "sqlparse==0.5.3"
VALIDATED_AFTER = timedelta(minutes=10)  # the stable release's validation, after its deploy


def save_stable_record(layout: Layout) -> None:
    """At provisioning, the stable release deployed and migrated: its packages and migrations."""
    freeze = layout.shell.run([layout.venv / "bin" / "pip", "freeze", "--all"]).stdout
    plan = manage(layout, "showmigrations", "--plan")
    record = {"packages": parse_freeze(freeze), "migrations": ledger.parse_plan(plan)}
    layout.state.mkdir(parents=True, exist_ok=True)
    (layout.state / STABLE_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")


def write_ledger(layout: Layout, tags: history.Releases, timeline: Timeline) -> Path:
    """At reset: the ledger holds one entry, the stable release validated after its deploy."""
    record = json.loads((layout.state / STABLE_RECORD).read_text(encoding="utf-8"))
    requirements = history.show(layout, tags.stable, layout.env.app.requirements)
    facts = {
        "tag": tags.stable,
        "commit": history.git(layout, layout.app, "rev-parse", f"{tags.stable}^{{commit}}"),
        "requirements_sha256": hashlib.sha256(requirements.encode()).hexdigest(),
        "static_sha256": None,
        **record,
    }
    entry = ledger.new_entry(
        VALIDATED,
        facts,
        "sandbox history",
        timeline.stable_deploy + VALIDATED_AFTER,
        evidence="validated when it was deployed",
    )
    path = Path(layout.env.ledger_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ledger.encode(entry) + "\n")
    return path
