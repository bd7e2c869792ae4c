"""Append-only signed addenda to an incident record: §7.1's root cause and lessons learned, and
§7.3's follow-ups done. `rollbook addendum reports/<id> --key KEY …` writes each as a new signed
statement in the folder's signoffs/ (rollbook.governance.statements): the record itself stays
byte-identical and keeps verifying. `rollbook verify` lists the addenda and the closing duties
still open, naming the overdue ones; an open duty leaves the record INCOMPLETO.

Who may write what: the root cause and the lessons, §3.1's "Documentar incidente" (Tech Lead R,
Incident Manager A); a follow-up done, the person holding the role it was assigned to."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rollbook.core.config import Person
from rollbook.core.errors import UserError

KIND = "addendum"
WRITERS = ("tech_lead", "incident_manager")  # §3.1 Documentar incidente: R and A
TEXTS = {"root_cause": "causa raíz", "lessons": "lecciones aprendidas"}
FOLLOW_UP = "follow_up"
_DUE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")


def follow_ups(facts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Paso 7.3's follow-ups as the record holds them (none where Paso 7.3 did not run)."""
    return list((facts.get("follow_ups") or {}).get("items") or [])


def body(
    facts: dict[str, dict[str, Any]], person: Person, what: str, text: str, number: int | None
) -> dict[str, Any]:
    """The statement of an addendum by `person`: `what` is root_cause, lessons or follow_up
    (`number`: the follow-up's, from 1, as `rollbook verify` lists them); refused, in one line,
    when the person may not write it."""
    if what == FOLLOW_UP:
        items = follow_ups(facts)
        if number is None or not 1 <= number <= len(items):
            raise UserError(
                f"the record has {len(items)} follow-ups: give --done 1 to {len(items)} "
                "(rollbook verify lists them)"
                if items
                else "the record has no follow-ups (Paso 7.3 did not run): nothing to mark done"
            )
        item = items[number - 1]
        if item["role"] not in person.roles:
            raise UserError(
                f"{person.name} does not hold the role {item['role']} that follow-up {number} "
                f"({item['action']}) is assigned to: its owner marks it done "
                f"({item.get('owner') or 'nobody holds the role'})"
            )
        return {
            "kind": KIND,
            "role": item["role"],
            "what": what,
            "follow_up": item["action"],
            "text": text,
        }
    role = next((role for role in WRITERS if role in person.roles), None)
    if role is None:
        raise UserError(
            f"{person.name} holds neither tech_lead nor incident_manager: §3.1's 'Documentar "
            f"incidente' writes the {TEXTS[what]}"
        )
    if not text.strip():
        raise UserError(f"the {TEXTS[what]} is empty: write it")
    return {"kind": KIND, "role": role, "what": what, "text": text}


def duties(
    facts: dict[str, dict[str, Any]], written: list[dict[str, Any]], now: datetime
) -> tuple[list[str], list[str]]:
    """(lines for the auditor, the duties still open) of a record whose Paso 7.3 ran: each
    addendum written (valid statements), each follow-up done or open (VENCIDO past its due time),
    the root cause and the lessons written or not."""
    items = follow_ups(facts)
    if not items:
        return [], []
    lines, open_ = [], []
    for statement in written:
        said = statement.get("follow_up") or TEXTS.get(str(statement.get("what")), "?")
        note = f": {statement['text']}" if statement.get("text") else ""
        lines.append(
            f"adenda de {statement['person']} ({statement['role']}) el "
            f"{statement['signed_at']}: {said}{note}"
        )
    done = {str(s.get("follow_up")) for s in written if s.get("what") == FOLLOW_UP}
    for number, item in enumerate(items, start=1):
        if item.get("done"):  # the run itself did it, and journaled how (Paso 7.2's notice)
            lines.append(f"{number}. {item['action']} — {item['done']}")
            continue
        if item["action"] in done:
            continue
        due = _DUE.search(str(item.get("due")))
        late = due and datetime.strptime(due.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC) < now
        owner = item.get("owner") or f"nadie tiene el rol {item['role']}"
        open_.append(
            f"{'VENCIDO' if late else 'pendiente'}: {number}. {item['action']} — "
            f"{owner} [{item['role']}] — {item.get('due')}"
        )
    for what, name in TEXTS.items():
        if not any(s.get("what") == what for s in written):
            open_.append(f"pendiente: {name} (tech_lead o incident_manager: rollbook addendum)")
    lines += open_ or ["deberes de cierre: todos hechos"]
    return lines, open_
