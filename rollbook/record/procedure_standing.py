"""Whether the written procedure may be relied on today, as its own metadata says: its status
(front matter `estado`), its version, its scheduled review ("Proxima revision programada: DATE")
and §14's approvals (a row whose signature is blank or whose date is not a date is unsigned).
Every run records it; a past review date or an unsigned §14 row is a warning in every run and
in the record, and an environment may require §14 signed (`procedure_approvals: required`)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from rollbook.governance.provenance import ROOT, procedure_of
from rollbook.record.procedure_document import read_document, table_rows

ACTIVE = "activo"
_REVIEW = re.compile(r"pr[oó]xima\s+revisi[oó]n\s+programada:?\**:?\s*(\d{4}-\d{2}-\d{2})", re.I)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _unsigned(rows: list[list[str]]) -> list[str]:
    """§14's rows (Rol | Nombre | Firma | Fecha) without a signature or a date: "Rol (Nombre)"."""
    if not rows or len(rows[0]) < 4:
        return []
    return [
        f"{row[0]} ({row[1]})"
        for row in rows[1:]
        if len(row) >= 4 and (not row[2].strip("_ ") or not _DATE.match(row[3]))
    ]


def standing(path: Path, today: date) -> dict[str, Any]:
    """The document's standing on `today`: its id, version, status, next review, the unsigned
    §14 rows, and the problems a reader must know of (Spanish, one line each)."""
    document = read_document(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    status = document.status
    review = next((m.group(1) for line in lines if (m := _REVIEW.search(line))), None)
    approvals = next((h for h in document.headings if h.key == "§14"), None)
    unsigned = _unsigned(table_rows(approvals.body)) if approvals else []
    problems = []
    if status is None or status.lower() != ACTIVE:
        problems.append(f"estado del documento: {status or 'no declarado'} (no {ACTIVE})")
    if review is None:
        problems.append("el documento no declara su próxima revisión programada")
    elif date.fromisoformat(review) < today:
        late = (today - date.fromisoformat(review)).days
        problems.append(f"revisión programada vencida: {review} (hace {late} días)")
    if approvals is None:
        problems.append("el documento no tiene §14 (aprobaciones)")
    elif unsigned:
        problems.append(f"§14 sin firmar: {', '.join(unsigned)}")
    return {
        "document": str(path),
        "id": document.id,
        "version": document.version,
        "status": status,
        "next_review": review,
        "unsigned": unsigned,
        "problems": problems,
    }


def of_features(features: list[Path], today: date) -> dict[str, Any] | None:
    """The standing of the procedure the features declare (`# procedimiento: ID vX`), read from
    rollbook's procedures/ID.md; None when no feature declares one."""
    ids = sorted({found[0] for path in features if (found := procedure_of(Path(path)))})
    if not ids:
        return None
    path = ROOT / "procedures" / f"{ids[0]}.md"
    if not path.is_file():
        missing = f"{path} no existe: la vigencia del procedimiento no se comprobó"
        return {
            "document": str(path),
            "id": ids[0],
            "version": None,
            "status": None,
            "next_review": None,
            "unsigned": [],
            "problems": [missing],
        }
    return {**standing(path, today), "document": str(path.relative_to(ROOT))}


def summary(fact: dict[str, Any] | None) -> str:
    """One line for the record: the document, its version and status, and what is wrong."""
    if not fact:
        return "n/d"
    said = f"{fact['id']} v{fact['version']}, estado {fact['status'] or 'n/d'}"
    said += f", próxima revisión {fact['next_review'] or 'n/d'}"
    return said + (f" — ATENCIÓN: {'; '.join(fact['problems'])}" if fact["problems"] else "")
