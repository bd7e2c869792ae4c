"""Rows changed since the backup, named: Paso 4.5's conflicts (a key the restored table holds with
the backup's content, the pre-rollback content newer) with the columns that differ, the backup's
value → the pre-rollback one, for the first SHOWN of each table. The restored row keeps the
backup's content; the newer is in the salvage file; the record shows what a person decides."""

from __future__ import annotations

import json

from rollbook.actions.database import ident, key_text, literal, psql
from rollbook.actions.database.loss_statement import SHOWN  # rows per table the record names
from rollbook.core.resources import PostgresClient

VALUE_CHARS = 60  # a value longer than this is cut, with "…"


def changed(
    pg: PostgresClient, table: str, salvage: str, status: str, key: list[str], left: list[str]
) -> dict[str, dict[str, list[str]]]:
    """{key as the record names it: {column: [backup's value, pre-rollback value]}} of the first
    SHOWN rows of `salvage` (the restored table's columns, plus `left`: the salvage's own) marked
    conflict in `status`, by key."""
    match = " AND ".join(f"x.{ident(c)} = p.{ident(c)}" for c in key)
    own = " - ".join(["to_jsonb(x)", *(literal(c) for c in left)])
    sql = (
        f"SELECT {key_text(key)}, (SELECT jsonb_object_agg(n.key, jsonb_build_array(o.value, "
        f"n.value)) FROM jsonb_each(to_jsonb(p)) o JOIN jsonb_each({own}) n ON n.key = o.key "
        f"WHERE o.value IS DISTINCT FROM n.value) FROM {salvage} x JOIN public.{ident(table)} p "
        f"ON {match} WHERE x.{ident(status)} = 'conflict' ORDER BY "
        f"{', '.join(f'x.{ident(c)}' for c in key)} LIMIT {SHOWN}"
    )
    found = {}
    for line in psql(pg, sql).splitlines():
        name, _, columns = line.partition("|")
        diff = json.loads(columns) if columns else {}
        found[name] = {c: [cut(a), cut(b)] for c, (a, b) in sorted(diff.items())}
    return found


def described(rows: dict[str, dict[str, list[str]]]) -> str:
    """ "17: status «paid» → «refunded»; 18: …" (backup's value → pre-rollback value)."""
    return "; ".join(
        f"{key}: " + ", ".join(f"{c} «{a}» → «{b}»" for c, (a, b) in columns.items())
        for key, columns in rows.items()
    )


def cut(value: object, width: int = VALUE_CHARS) -> str:
    """A value as the record shows it, cut at `width` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"
