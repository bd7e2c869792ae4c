"""Readable labels for the rows a restore would lose, asked of the app before any change: the
model's own __str__ (in_app/row_labels.py, `manage.py shell -c` with the deployed code) of the
first rows of each table the record names by key (loss_statement.SHOWN), so an operator can tell
"201" is "Order #201 (paid, 120.00)" and whose it is. Rows written after the question are named
by key only."""

from __future__ import annotations

import json
from pathlib import Path

from rollbook.core.incident import Incident
from rollbook.core.resources import Venv
from rollbook.core.site import Site

SCRIPT = (Path(__file__).parent / "in_app" / "row_labels.py").read_text()
MARKER = "ROLLBOOK-ROW-LABELS "


def ask(incident: Incident, site: Site, keys: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """{table: {key: label}} for `keys` ({table: [key as the record names it]}); {} when the app
    gives none (said: the record then names the rows by key)."""
    if not any(keys.values()):
        return {}
    host = site.first_host("app")
    venv = Venv(host, site.env.app)
    result = venv.run(
        [venv.tool("python"), site.env.app.manage, "shell", "-c", SCRIPT], mutating=False,
        check=False, env={"ROLLBOOK_ROW_KEYS": json.dumps(keys)},
    )  # fmt: skip
    line = next((x for x in result.stdout.splitlines() if x.startswith(MARKER)), None)
    if not result.ok or line is None:
        why = host.describe_failure(result) if not result.ok else "it printed no labels"
        incident.say(f"WARNING: the app named no row by label ({why}): rows are named by key")
        return {}
    return dict(json.loads(line[len(MARKER) :]))
