"""Readable labels for the rows a restore would lose, asked of the app before any change: the
model's own __str__ (in_app/row_labels.py, `manage.py shell -c` with the deployed code) of the
first rows of each table the record names by key (loss_statement.SHOWN), so an operator can tell
"201" is "Order #201 (paid, 120.00)" and whose it is. Rows written after the question are named
by key only."""

from __future__ import annotations

import json
from pathlib import Path

from rollbook.actions import database
from rollbook.actions.database import ident, key_text, psql
from rollbook.actions.database.changed_rows import cut
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.resources import Venv
from rollbook.core.site import Site

SCRIPT = (Path(__file__).parents[1] / "in_app" / "row_labels.py").read_text()
MARKER = "ROLLBOOK-ROW-LABELS "
WIDTH = 80  # a label longer than this is cut (as in_app/row_labels.py cuts the app's)


def ask(incident: Incident, site: Site, keys: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """{table: {key: label}} for `keys` ({table: [key as the record names it]}): a table's
    configured column (`database.label_columns`) where it has one, else the app's __str__; {}
    when neither gives any (said: the record then names the rows by key)."""
    configured = site.env.database.label_columns
    labels = _from_columns(incident, site, {t: k for t, k in keys.items() if t in configured})
    asked = {t: k for t, k in keys.items() if t not in configured and k}
    if not asked:
        return labels
    host = site.first_host("app")
    venv = Venv(host, site.env.app)
    result = venv.run(
        [venv.tool("python"), site.env.app.manage, "shell", "-c", SCRIPT],
        mutating=False,
        check=False,
        env={"ROLLBOOK_ROW_KEYS": json.dumps(asked)},
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith(MARKER)), None)
    if not result.ok or line is None:
        why = host.describe_failure(result) if not result.ok else "it printed no labels"
        incident.say(f"WARNING: the app named no row by label ({why}): rows are named by key")
        return labels
    return labels | dict(json.loads(line[len(MARKER) :]))


def _from_columns(
    incident: Incident, site: Site, keys: dict[str, list[str]]
) -> dict[str, dict[str, str]]:
    """The configured column's value as each row's label, read from the database now."""
    pg, found = site.postgres(), {}
    pks = database.primary_keys(pg) if any(keys.values()) else {}
    for table, wanted in keys.items():
        column, pk = site.env.database.label_columns[table], pks.get(table)
        if not wanted or not pk:
            continue
        sql = (
            f"SELECT json_build_array({key_text(pk)}, x.{ident(column)}::text) FROM "
            f"public.{ident(table)} AS x WHERE {database.having_keys(pk, wanted)}"
        )
        try:
            rows = [json.loads(line) for line in psql(pg, sql).splitlines()]
        except StepFailed as exc:
            incident.say(f"WARNING: database.label_columns {table}.{column} named no row: {exc}")
            continue
        found[table] = {key: cut(" ".join(text.split()), WIDTH) for key, text in rows if text}
    return {t: labels for t, labels in found.items() if labels}
