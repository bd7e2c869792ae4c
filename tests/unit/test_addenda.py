"""Addenda to a signed record: who may write what (§3.1), and the closing duties still open —
a follow-up done leaves the open list, one past its due time is VENCIDO."""

from datetime import UTC, datetime

import pytest

from rollbook.core.config import Person
from rollbook.core.errors import UserError
from rollbook.governance import addenda

FACTS = {
    "follow_ups": {
        "items": [
            {
                "action": "Cerrar ticket de incidente (si aplica)",
                "role": "incident_manager",
                "owner": "Irene Ibáñez (+34 600)",
                "due": "al cierre",
            },
            {
                "action": "Programar post-mortem meeting",
                "role": "incident_manager",
                "owner": "Irene Ibáñez (+34 600)",
                "due": "antes del 2026-12-11 09:00 UTC",
            },
        ]
    }
}
LEAD = Person(name="Tomás Torres", identity="tl@x", roles=["tech_lead"])
MANAGER = Person(name="Irene Ibáñez", identity="im@x", roles=["incident_manager"])
DEVOPS = Person(name="Diego Díaz", identity="do@x", roles=["devops"])


def test_a_follow_up_is_marked_done_by_its_owners_role_only() -> None:
    with pytest.raises(UserError) as refused:
        addenda.body(FACTS, LEAD, addenda.FOLLOW_UP, "", 2)
    said = str(refused.value)
    assert said.startswith("Tomás Torres does not hold the role incident_manager that follow-up")
    assert "Irene Ibáñez" in said and "\n" not in said
    done = addenda.body(FACTS, MANAGER, addenda.FOLLOW_UP, "INC-42", 2)
    assert done["follow_up"] == "Programar post-mortem meeting"
    assert done["role"] == "incident_manager"
    with pytest.raises(UserError, match="give --done 1 to 2"):
        addenda.body(FACTS, MANAGER, addenda.FOLLOW_UP, "", 3)


def test_the_root_cause_is_written_by_whoever_documents_the_incident() -> None:
    with pytest.raises(UserError, match="holds neither tech_lead nor incident_manager"):
        addenda.body(FACTS, DEVOPS, "root_cause", "a missing index", None)
    assert addenda.body(FACTS, LEAD, "root_cause", "a missing index", None)["role"] == "tech_lead"


def _written(person: Person, body: dict) -> dict:
    return {**body, "person": person.name, "signed_at": "2026-12-06T08:00:00+00:00"}


def test_open_duties_until_written_and_overdue_ones_named() -> None:
    before_due, after_due = datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC)
    _, still = addenda.duties(FACTS, [], before_due)
    assert still == [
        "pendiente: 1. Cerrar ticket de incidente (si aplica) — Irene Ibáñez (+34 600) "
        "[incident_manager] — al cierre",
        "pendiente: 2. Programar post-mortem meeting — Irene Ibáñez (+34 600) "
        "[incident_manager] — antes del 2026-12-11 09:00 UTC",
        "pendiente: causa raíz (tech_lead o incident_manager: rollbook addendum)",
        "pendiente: lecciones aprendidas (tech_lead o incident_manager: rollbook addendum)",
    ]
    assert addenda.duties(FACTS, [], after_due)[1][1].startswith("VENCIDO: 2. Programar")
    written = [
        _written(MANAGER, addenda.body(FACTS, MANAGER, addenda.FOLLOW_UP, "INC-42", number))
        for number in (1, 2)
    ] + [
        _written(LEAD, addenda.body(FACTS, LEAD, what, "text", None))
        for what in ("root_cause", "lessons")
    ]
    lines, still = addenda.duties(FACTS, written[:1], after_due)
    assert not any("Cerrar ticket" in line for line in still)
    assert (
        "adenda de Irene Ibáñez (incident_manager) el 2026-12-06T08:00:00+00:00: Cerrar "
        "ticket de incidente (si aplica): INC-42" in lines
    )
    lines, still = addenda.duties(FACTS, written, after_due)
    assert still == [] and lines[-1] == "deberes de cierre: todos hechos"


def test_a_record_without_paso_7_3_has_no_duties() -> None:
    assert addenda.duties({}, [], datetime.now(UTC)) == ([], [])


def test_a_follow_up_the_run_did_is_not_open() -> None:
    """§7.3's Product Owner notice, delivered by Paso 7.2: listed with its evidence, not open."""
    told = "hecho: el aviso de fin del Paso 7.2 llegó a Pablo Pérez (PO_URL, 03:10:00 UTC)"
    items = [{**FACTS["follow_ups"]["items"][0], "done": told}, FACTS["follow_ups"]["items"][1]]
    lines, still = addenda.duties({"follow_ups": {"items": items}}, [], datetime.now(UTC))
    assert f"1. Cerrar ticket de incidente (si aplica) — {told}" in lines
    assert [line for line in still if "Cerrar ticket" in line] == []
    assert any(line.startswith("pendiente: 2. Programar post-mortem") for line in still)
