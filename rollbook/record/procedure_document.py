"""The written procedure (procedures/PROCED-BACK-003.md) read as data: its front matter, its
numbered headings in document order, the Anexo B time per Etapa and the §3.1 RACI matrix.

Only numbered headings count: `## N. TITLE`, `### N.M Title`, `### ETAPA N: TITLE (X minutos)`,
`#### Paso N.M: Title`, `### Anexo X: Title`; lines inside ``` fences are code, never headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rollbook.core.errors import UserError

SECTION, SUBSECTION, ETAPA, PASO, ANEXO = "section", "subsection", "etapa", "paso", "anexo"
MANUAL, INFORMATIVO = "manual", "informativo"  # the statuses of a section nothing executes
_HEADINGS = [  # (kind, pattern): group 1 the number, group 2 the title
    (SECTION, re.compile(r"^## (\d+)\.\s+(.+?)\s*$")),
    (SUBSECTION, re.compile(r"^### (\d+\.\d+)\s+(.+?)\s*$")),
    (ETAPA, re.compile(r"^### ETAPA (\d+):\s*(.+?)\s*$")),
    (PASO, re.compile(r"^#### Paso (\d+\.\d+):\s*(.+?)\s*$")),
    (ANEXO, re.compile(r"^### Anexo ([A-Z]):\s*(.+?)\s*$")),
]
_MINUTES = re.compile(r"\((\d+) minutos?\)\s*$")
_ANY_HEADING = re.compile(r"^#{1,6} ")
_TABLE_RULE = re.compile(r"^\|[\s|:-]+\|$")
_ANEXO_B_TIME = re.compile(r"^(\d+)\s*min")


@dataclass
class Heading:
    kind: str  # SECTION, SUBSECTION, ETAPA, PASO or ANEXO
    number: str  # "4", "4.1", "4" (ETAPA 4), "4.3" (Paso 4.3), "C" (Anexo C)
    title: str  # as written, without the number
    text: str  # the whole heading line as written, without the #'s
    level: int  # 2, 3 or 4: the number of #'s
    minutes: int | None = None  # the "(X minutos)" of an ETAPA heading
    body: list[str] = field(default_factory=list)  # its lines up to the next heading of any kind
    parent: Heading | None = None

    @property
    def key(self) -> str:
        """Unique within the document: "§4", "§4.1", "Etapa 4", "Paso 4.3", "Anexo C"."""
        prefix = {SECTION: "§", SUBSECTION: "§", ETAPA: "Etapa ", PASO: "Paso ", ANEXO: "Anexo "}
        return prefix[self.kind] + self.number


@dataclass(frozen=True)
class EtapaTime:
    label: str  # the Anexo B row's name, "Rollback DB"
    minutes: int
    cumulative: int | None


@dataclass
class ProcedureDocument:
    path: str
    id: str | None
    version: str | None
    status: str | None  # the front matter's `estado` (activo, borrador …)
    title: str  # the `# ` heading
    headings: list[Heading]
    anexo_b: dict[str, EtapaTime]  # per Etapa number, in the Anexo B row order
    raci_roles: list[str]
    raci: dict[str, dict[str, str]]  # activity -> role -> R/A/C/I

    def find(self, key: str) -> Heading | None:
        return next((h for h in self.headings if h.key == key), None)

    def children(self, heading: Heading) -> list[Heading]:
        return [h for h in self.headings if h.parent is heading]


def _front_matter(lines: list[str]) -> dict[str, str]:
    if not lines or lines[0].strip() != "---":
        return {}
    values: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _heading(line: str) -> Heading | None:
    for kind, pattern in _HEADINGS:
        match = pattern.match(line)
        if match:
            minutes = _MINUTES.search(line) if kind == ETAPA else None
            return Heading(
                kind=kind,
                number=match.group(1),
                title=_MINUTES.sub("", match.group(2)).strip() if minutes else match.group(2),
                text=line.lstrip("#").strip(),
                level=len(line) - len(line.lstrip("#")),
                minutes=int(minutes.group(1)) if minutes else None,
            )
    return None


def _headings(lines: list[str]) -> list[Heading]:
    headings: list[Heading] = []
    stack: list[Heading] = []
    current: Heading | None = None
    fenced = False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else _heading(line)
        if heading is not None:
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            heading.parent = stack[-1] if stack else None
            headings.append(heading)
            stack.append(heading)
            current = heading
        elif not fenced and _ANY_HEADING.match(line):
            current = None  # an unnumbered heading ("### Version 1.0.0") ends the body
        elif current is not None:
            current.body.append(line)
    return headings


def table_rows(body: list[str]) -> list[list[str]]:
    """The first Markdown table in `body`, header row first, without the |---| rule."""
    rows: list[list[str]] = []
    for line in body:
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            if not _TABLE_RULE.match(line):
                rows.append([cell.strip() for cell in line[1:-1].split("|")])
        elif rows:
            break
    return rows


def _anexo_b(heading: Heading | None) -> dict[str, EtapaTime]:
    """Anexo B's rows, in order, are Etapas 1, 2, …: its names are short forms of the titles."""
    times: dict[str, EtapaTime] = {}
    rows = table_rows(heading.body) if heading else []
    for number, row in enumerate(rows[1:], 1):
        minutes = _ANEXO_B_TIME.match(row[1]) if len(row) > 1 else None
        cumulative = _ANEXO_B_TIME.match(row[2]) if len(row) > 2 else None
        if minutes:
            total = int(cumulative.group(1)) if cumulative else None
            times[str(number)] = EtapaTime(row[0], int(minutes.group(1)), total)
    return times


def read_document(path: Path) -> ProcedureDocument:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise UserError(
            f"{path}: cannot read the procedure document: {why} — pass --document FILE"
        ) from None
    headings = _headings(lines)
    if not any(h.kind == SECTION for h in headings):
        raise UserError(
            f"{path}: no numbered section (## N. TITLE) — is it the procedure? "
            "pass --document procedures/PROCED-BACK-003.md"
        )
    meta = _front_matter(lines)
    raci = table_rows(next((h.body for h in headings if h.key == "§3.1"), []))
    roles = raci[0][1:] if raci else []
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), path.stem)
    return ProcedureDocument(
        path=str(path),
        id=meta.get("id"),
        version=meta.get("version"),
        status=meta.get("estado"),
        title=title,
        headings=headings,
        anexo_b=_anexo_b(next((h for h in headings if h.key == "Anexo B"), None)),
        raci_roles=roles,
        raci={row[0]: dict(zip(roles, row[1:], strict=False)) for row in raci[1:] if row},
    )


_CRITERION = re.compile(r"^\*\*Criterio de [EÉ]xito:\*\*\s*(.+?)\s*$")


def success_criterion(heading: Heading) -> str | None:
    """The Paso's own "**Criterio de Exito:**" line, as the document words it."""
    found = (_CRITERION.match(line.strip()) for line in heading.body)
    return next((match.group(1) for match in found if match), None)


def raci_who(document: ProcedureDocument, activity: str) -> str | None:
    """ "R: DBA; A: Tech Lead" for a §3.1 activity; None when the matrix has no such row."""
    letters = document.raci.get(activity)
    if letters is None:
        return None
    parts = []
    for letter in ("R", "A"):
        roles = [role for role, value in letters.items() if value == letter]
        if roles:
            parts.append(f"{letter}: {', '.join(roles)}")
    return "; ".join(parts) or None


# Sections no scenario executes: status, the §3.1 RACI activity whose roles do it (None: none
# fits), and why. A sub-section without an entry takes its parent's.
MANUAL_SECTIONS: dict[str, tuple[str, str | None, str]] = {
    "§1": (INFORMATIVO, None, "sección informativa: propósito del procedimiento"),
    "§2": (INFORMATIVO, None, "sección informativa: alcance del procedimiento"),
    "§2.3": (MANUAL, "Declarar necesidad de rollback", "decidir si se ejecuta el rollback"),
    "§3": (
        INFORMATIVO,
        None,
        "define los roles; la Matriz RACI dice quién hace lo manual; el "
        "ambiente nombra a cada persona (people, approvers, sign_offs), que firma con su clave: "
        "rollbook approve (el plan) y rollbook sign-off (el registro)",
    ),
    "§4.3": (MANUAL, "Ejecutar rollback", "conocimientos del equipo que ejecuta (§3.2)"),
    "§6": (INFORMATIVO, None, "lista artefactos; los de rollbook salen de los Pasos 4.1 y 7.1"),
    "§6.2": (MANUAL, "Documentar incidente", "capturas, métricas y logs de la aplicación"),
    "§7": (INFORMATIVO, None, "los criterios de cada Paso se comprueban en su escenario"),
    "§7.1": (
        MANUAL,
        "Validar rollback",
        "rollbook mide cada criterio en el registro (Paso 7.1: tabla «Criterios de Éxito», "
        "CUMPLE / NO CUMPLE con lo medido); quien valida lo firma con rollbook sign-off",
    ),
    "§7.2": (
        MANUAL,
        "Validar rollback",
        "juicio del equipo sobre la estabilidad del servicio; "
        "lo firma el tech lead con rollbook sign-off",
    ),
    "§7.3": (
        MANUAL,
        "Documentar incidente",
        "lecciones aprendidas y acciones correctivas (el "
        "Paso 7.3 lista las acciones de cierre con responsable y fecha)",
    ),
    "§9.2": (MANUAL, "Restaurar base de datos", "contingencia de última instancia; escalar"),
    "§10": (INFORMATIVO, None, "sección informativa: riesgos y mitigaciones"),
    "§11": (INFORMATIVO, None, "buenas prácticas para quien ejecuta"),
    "§11.1": (
        MANUAL,
        "Declarar necesidad de rollback",
        "1: la aprobación del Paso 1.1 (rollbook approve, firmada); 2: Paso 1.3; 3: Paso 1.4; "
        "4: el plan B es §9, automático; 5: Paso 1.1 (decisión y razón en el registro)",
    ),
    "§11.2": (
        MANUAL,
        "Ejecutar rollback",
        "1 y 2: rollbook ejecuta los Pasos en el orden del documento; 3: el journal registra cada "
        "comando; 4: avisos de los Pasos 1.4 y 7.2 y de §9.1; 5: el Criterio de Exito de cada "
        "Paso se comprueba antes del siguiente",
    ),
    "§11.3": (
        MANUAL,
        "Investigar causa raiz",
        "post-mortem y plan de re-deployment, con responsable y fecha en las acciones del Paso 7.3",
    ),
    "§12": (
        INFORMATIVO,
        None,
        "herramientas, documentos y contactos de referencia (los "
        "contactos: people del ambiente, avisados por rol)",
    ),
    "§12.4": (
        MANUAL,
        "Declarar necesidad de rollback",
        "los contactos son las people del ambiente (contact, notify_env), avisados por rol; "
        "mantenerlos al día en el archivo del ambiente",
    ),
    "§13": (INFORMATIVO, None, "historial de versiones del documento"),
    "§14": (
        MANUAL,
        "Validar rollback",
        "firmar la tabla de §14 del documento (fuera de un incidente): cada corrida la lee y "
        "avisa de una fila sin firma ni fecha (procedure_approvals: required la exige); las "
        "firmas de cada incidente: rollbook sign-off, listadas por rollbook verify",
    ),
    "Anexo A": (INFORMATIVO, None, "resumen de los Pasos de §5, que se ejecutan allí"),
    "Anexo B": (INFORMATIVO, None, "sus tiempos son el presupuesto de cada Etapa, arriba"),
    "Anexo D": (INFORMATIVO, None, "comandos de consulta de referencia"),
}
NO_SCENARIO = "ningún escenario lo cubre"


def not_executed(document: ProcedureDocument, heading: Heading) -> tuple[str, str | None, str]:
    """(MANUAL or INFORMATIVO, who does it per the §3.1 RACI matrix or None, why rollbook does
    not) for a section no scenario covers: its MANUAL_SECTIONS entry, else its parent's; MANUAL
    when none has one."""
    entry, ancestor = None, heading
    while entry is None and ancestor is not None:
        entry, ancestor = MANUAL_SECTIONS.get(ancestor.key), ancestor.parent
    status, activity, why = entry or (MANUAL, None, NO_SCENARIO)
    roles = raci_who(document, activity) if activity else None
    who = f"{roles} («{activity}», Matriz RACI §3.1)" if roles else None
    return status, who, f"no ejecutado por rollbook: {why}"


def etapa_budget(document: ProcedureDocument, heading: Heading) -> str | None:
    """The Anexo B time of an Etapa (and of the Etapa a Paso belongs to), in words."""
    etapa = heading if heading.kind == ETAPA else heading.parent
    if heading.kind not in (ETAPA, PASO) or etapa is None or etapa.kind != ETAPA:
        return None
    time = document.anexo_b.get(etapa.number)
    if heading.kind == PASO:
        minutes = time.minutes if time else etapa.minutes
        return f"dentro de los {minutes} min de la Etapa {etapa.number}" if minutes else None
    if time is None:
        return (
            f"{etapa.minutes} min (encabezado; sin fila en el Anexo B)" if etapa.minutes else None
        )
    text = f"{time.minutes} min (Anexo B: «{time.label}»"
    text += f", acumulado {time.cumulative} min)" if time.cumulative is not None else ")"
    if etapa.minutes is not None and etapa.minutes != time.minutes:
        text += f" — ⚠ el encabezado dice {etapa.minutes} minutos"
    return text
