"""The data-loss statement per table, for the markdown and report.html: rows of the pre-rollback
state → absent after the restore → recovered (Paso 4.5) → conflicts → lost, and why."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from rollbook.actions.database import changed_rows, loss_statement, row_recovery
from rollbook.core.state import (
    DataLoss,
    RowKinds,
    RowLabels,
    RowsChanged,
    RowsRecovered,
    SafetyDump,
)

HEAD = (
    "tabla",
    "filas antes",
    "ausentes tras restaurar",
    "recuperadas",
    "cambiadas (conflicto)",
    "perdidas",
    "motivo",
)


def rows(facts: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per table that lost or got back rows; [] when nothing was counted or lost."""
    done = RowsRecovered.read(facts)
    if done:
        return [_recovered(table, s, kind(table, facts)) for table, s in done.tables.items()]
    loss = DataLoss.read(facts)
    lost = (loss.tables if loss else None) or {}
    safety = SafetyDump.read(facts)
    before = (safety.tables if safety else None) or {}
    return [
        (
            table,
            str(before.get(table, {}).get("rows", "n/d")),
            str(n),
            "-",
            "-",
            str(n),
            "; ".join(
                filter(
                    None,
                    [
                        "no está en el backup restaurado" + _keys(table, n, facts),
                        kind(table, facts),
                    ],
                )
            ),
        )
        for table, n in lost.items()
        if n
    ]


REGENERATED = "regenerada por el migrate de la versión objetivo (no es dato de usuario)"
IGNORED = "ignorada por configuración, database.ignore_tables (no es dato de usuario)"


def user_tables(facts: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The tables that lost rows of user data, and how many: §7.1 counts these (RowKinds puts
    the framework's and the ignored tables apart)."""
    loss, kinds = DataLoss.read(facts), RowKinds.read(facts)
    apart = kinds.apart() if kinds else set()
    return {
        t: n for t, n in ((loss.tables if loss else None) or {}).items() if n and t not in apart
    }


def apart(facts: dict[str, dict[str, Any]]) -> str:
    """The rows lost that are not user data, by kind ("" when none): "; aparte, no son datos de
    usuario: regeneradas por …: auth_permission: 4; ignoradas …: django_session: 2"."""
    loss, kinds = DataLoss.read(facts), RowKinds.read(facts)
    if not loss or not loss.tables or not kinds:
        return ""
    said = [
        f"{what}: " + ", ".join(f"{t}: {loss.tables[t]}" for t in tables)
        for what, tables in (
            ("regeneradas por el migrate de la versión objetivo", kinds.regenerated),
            ("ignoradas por configuración (database.ignore_tables)", kinds.ignored),
        )
        if tables
    ]
    return (
        f"; aparte, filas que no son datos de usuario (§7.1 no las cuenta) — {'; '.join(said)}"
        if said
        else ""
    )


def changed_since(facts: dict[str, dict[str, Any]]) -> str:
    """The rows a plain restore put back to the backup's content (RowsChanged, estimated before
    Etapa 2), named: "" when none, or not counted (Paso 4.5 names its own conflicts)."""
    loss, changed = DataLoss.read(facts), RowsChanged.read(facts)
    if not loss or loss.recovered or not changed or not changed.tables:
        return ""
    named = "; ".join(
        f"{t}: {n} — {changed_rows.described(changed.rows.get(t, {}))}"
        + (" …" if n > len(changed.rows.get(t, {})) else "")
        for t, n in changed.tables.items()
    )
    safety = SafetyDump.read(facts)
    return (
        f"; {sum(changed.tables.values())} filas cambiadas desde el backup vuelven a su "
        f"contenido del backup (estimado en {changed.when}; clave: columna «backup» → «antes "
        f"del rollback»: {named}): la versión más nueva queda en "
        f"{safety.path if safety else 'el backup de seguridad'}, una persona decide cuál "
        "queda"
    )


def kind(table: str, facts: dict[str, dict[str, Any]]) -> str:
    """A table's kind where it is not user data ("" for user data)."""
    kinds = RowKinds.read(facts)
    if kinds and table in kinds.regenerated:
        return REGENERATED
    return IGNORED if kinds and table in kinds.ignored else ""


def named(table: str, n: int, facts: dict[str, dict[str, Any]]) -> str:
    """A table's rows lost, counted and named: "core_order: 12 (claves 201, 202 …)"."""
    return f"{table}: {n}" + _keys(table, n, facts, " (claves {})")


def listed(facts: dict[str, dict[str, Any]]) -> str:
    """Where every lost row's key is: the file beside the record ("" when none was written)."""
    loss = DataLoss.read(facts)
    path = loss.listed if loss else None
    return f"; todas las claves en {Path(path).name}, junto a este registro" if path else ""


def _keys(table: str, n: int, facts: dict[str, dict[str, Any]], form: str = "; claves: {}") -> str:
    """The first keys of a table's lost rows, as the fact names them, each with the app's label
    where it gave one ("" when the fact names none)."""
    loss = DataLoss.read(facts)
    keys = loss.keys.get(table, []) if loss else []
    if not keys:
        return ""
    shown = loss_statement.shown(table, keys, RowLabels.read(facts))
    return form.format(shown + (" …" if n > len(keys) else ""))


def _recovered(table: str, s: dict[str, Any], kind: str) -> tuple[str, ...]:
    why = [f"{reason}: {n}" for reason, n in s["not_recovered"].items()] + _conflicts(s)
    why += [kind] if kind and row_recovery.lost(s) else []
    if s["columns_absent"]:
        why.append(f"columns absent in the target: {', '.join(s['columns_absent'])}")
    if s.get("columns_renamed"):
        why.append(
            "columns renamed back: "
            + ", ".join(f"{n} → {c}" for c, n in s["columns_renamed"].items())
        )
    return (
        table,
        str(s["rows_before"]),
        str(s["dropped"]),
        str(s["recovered"]),
        str(s["conflicts"]),
        str(row_recovery.lost(s)),
        "; ".join(why) or "-",
    )


def _conflicts(s: dict[str, Any]) -> list[str]:
    """A table's conflicts, and the first of them named: key, column «backup» → «newer»."""
    if not s["conflicts"]:
        return []
    said = (
        f"conflicto (misma clave, otro contenido: queda la del backup, la más nueva en el "
        f"archivo de rescate; una persona decide): {s['conflicts']}"
    )
    changed = s.get("changed") or {}
    if changed:
        more = " …" if len(changed) < s["conflicts"] else ""
        said += (
            f" — clave: columna «backup» → «antes del rollback»: "
            f"{changed_rows.described(changed)}{more}"
        )
    return [said]


def markdown(facts: dict[str, dict[str, Any]]) -> list[str]:
    found = rows(facts)
    if not found:
        return []
    table = ["", "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    table += ["| " + " | ".join(row) + " |" for row in found]
    recovered = RowsRecovered.read(facts)
    if recovered:
        kept = recovered.salvage or "ninguno: nada quedó fuera"
        table += ["", f"- Archivo de rescate (para un DBA): {kept}"]
    return table


def html(facts: dict[str, dict[str, Any]]) -> str:
    found = rows(facts)
    if not found:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in HEAD)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in found
    )
    return f"<h3>Datos por tabla</h3><table><tr>{head}</tr>{body}</table>"
