"""The written procedure's own standing, read from the document as it is: status, scheduled
review and §14's approvals; what a reader must know said in Spanish, one line each."""

from datetime import date
from pathlib import Path

from rollbook.record.procedure_standing import of_features, standing, summary

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "procedures" / "PROCED-BACK-003.md"


def test_the_shipped_document_is_past_its_review_and_unsigned() -> None:
    fact = standing(DOCUMENT, date(2026, 12, 6))
    assert (fact["id"], fact["version"], fact["status"]) == ("PROCED-BACK-003", "1.0.0", "activo")
    assert fact["next_review"] == "2026-01-18"
    assert fact["unsigned"] == [
        "Autor (Equipo DevOps)",
        "Revisor Tecnico (DBA Lead)",
        "Aprobador (Tech Lead)",
        "Aprobador (CTO)",
    ]
    assert fact["problems"] == [
        "revisión programada vencida: 2026-01-18 (hace 322 días)",
        "§14 sin firmar: " + ", ".join(fact["unsigned"]),
    ]
    assert "ATENCIÓN: revisión programada vencida" in summary(fact)


def test_a_signed_document_within_its_review_date_has_nothing_to_say(tmp_path: Path) -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    signed = tmp_path / "PROCED-BACK-003.md"
    signed.write_text(text.replace("________", "firmado").replace("YYYY-MM-DD", "2025-11-20"))
    fact = standing(signed, date(2026, 1, 10))
    assert fact["unsigned"] == [] and fact["problems"] == []
    assert summary(fact) == "PROCED-BACK-003 v1.0.0, estado activo, próxima revisión 2026-01-18"


def test_a_draft_without_a_review_date_is_said(tmp_path: Path) -> None:
    text = DOCUMENT.read_text(encoding="utf-8").replace("estado: activo", "estado: borrador")
    draft = tmp_path / "PROCED-BACK-003.md"
    draft.write_text(text.replace("**Proxima revision programada:** 2026-01-18", ""))
    problems = standing(draft, date(2026, 1, 10))["problems"]
    assert problems[:2] == [
        "estado del documento: borrador (no activo)",
        "el documento no declara su próxima revisión programada",
    ]


def test_the_features_name_the_document() -> None:
    fact = of_features([ROOT / "features" / "rollback.feature"], date(2026, 12, 6))
    assert fact is not None and fact["document"] == "procedures/PROCED-BACK-003.md"
    assert of_features([], date(2026, 12, 6)) is None
