"""The procedure document against the features: which scenario (or whole feature) covers each
numbered section, the commands a dry-run plan gives each Paso, and the status of every section.

A scenario goes to the Paso of its number ("Paso 4.3 — …"), else to the sub-section of its number
("4.1 — …") inside its feature's section, else to its feature's section; a feature names its
section in its name ("PROCED-BACK-003 §9 — …", "PROCED-BACK-003 Anexo C — …"). Sections no
scenario covers are "manual" (who, from the §3.1 RACI matrix) or "informativo" (nothing to do);
MANUAL_SECTIONS says which, with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_bdd.exceptions import GherkinParseError
from pytest_bdd.gherkin_parser import Scenario as GherkinScenario
from pytest_bdd.gherkin_parser import get_gherkin_document

from rollbook.core.errors import UserError
from rollbook.record.procedure_document import (
    INFORMATIVO,
    MANUAL,
    PASO,
    Heading,
    ProcedureDocument,
    etapa_budget,
    not_executed,
    success_criterion,
)

EJECUTADO, PARCIAL = "ejecutado", "parcial"
STATUSES = (EJECUTADO, PARCIAL, MANUAL, INFORMATIVO)
_FEATURE_SECTION = re.compile(r"(?:§\s*(\d+(?:\.\d+)?)|Anexo\s+([A-Z]))\s*(?:—|-|:)")
_NUMBERED_NAME = re.compile(r"^(\d+(?:\.\d+)+)\s*(?:—|-|:)")
_PASO_NAME = re.compile(r"^Paso (\d+(?:\.\d+)*)\s*(?:—|-|:)?\s*(.*)$")
_DECLARED = re.compile(r"^#\s*procedimiento:\s*(.+?)\s*$")


Table = list[list[str]]  # the header row first


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str


@dataclass(frozen=True)
class Scenario:
    number: str | None  # "4.3", from "Paso 4.3 — …"; None when the name has no Paso number
    name: str
    tags: list[str]
    steps: list[Step]
    criterion: list[int]  # indices in `steps` of the Criterio de Exito: the last Entonces block
    examples: list[Table]


@dataclass(frozen=True)
class Feature:
    source: str
    name: str
    tags: list[str]
    background_keyword: str
    background: list[Step]
    scenarios: list[Scenario]  # in the file's order
    declared: str | None = None  # "PROCED-BACK-003 v1.0.0 (…)": its "# procedimiento:" line


def _criterion(scenario: GherkinScenario) -> list[int]:
    """The last Entonces block: its Entonces and the Y / Pero steps that continue it."""
    blocks: list[list[int]] = []
    kind = None
    for index, step in enumerate(scenario.steps):
        if step.keyword_type != "Conjunction":
            kind = step.keyword_type
            if kind == "Outcome":
                blocks.append([])
        if kind == "Outcome":
            blocks[-1].append(index)
    return blocks[-1] if blocks else []


def _scenario(scenario: GherkinScenario) -> Scenario:
    match = _PASO_NAME.match(scenario.name)
    return Scenario(
        number=match.group(1) if match else None,
        name=match.group(2) if match else scenario.name,
        tags=[tag.name for tag in scenario.tags],
        steps=[Step(step.keyword, step.text) for step in scenario.steps],
        criterion=_criterion(scenario),
        examples=[
            [[cell.value for cell in row.cells] for row in [table.table_header, *table.table_body]]
            for table in scenario.examples
            if table.table_header is not None and table.table_body is not None
        ],
    )


def read_feature(path: Path) -> Feature:
    try:
        document = get_gherkin_document(str(path))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the feature file: {exc.strerror}") from None
    except GherkinParseError as exc:
        raise UserError(f"{path}: not valid Gherkin at line {exc.line}: {exc.message}") from None
    except KeyError:  # pytest-bdd's parser on a file without a Característica
        raise UserError(f"{path}: no Característica (Feature) in this file") from None
    feature = document.feature
    children = [
        c for child in feature.children for c in (child.rule.children if child.rule else [child])
    ]
    backgrounds = [child.background for child in children if child.background]
    declared = [m.group(1) for c in document.comments if (m := _DECLARED.match(c.text.strip()))]
    return Feature(
        source=str(path),
        name=feature.name,
        tags=[tag.name for tag in feature.tags],
        background_keyword=backgrounds[0].keyword if backgrounds else "",
        background=[Step(s.keyword, s.text) for b in backgrounds for s in b.steps],
        scenarios=[_scenario(child.scenario) for child in children if child.scenario],
        declared=declared[0] if declared else None,
    )


@dataclass(frozen=True)
class Command:
    paso: str
    host: str
    argv: list[str]
    cwd: str | None


@dataclass(frozen=True)
class Plan:
    path: str
    incident: str | None
    environment: str | None
    commands: list[Command]


@dataclass(frozen=True)
class Covering:
    source: str  # the feature file
    scenario: Scenario

    @property
    def number(self) -> str | None:
        return scenario_number(self.scenario)

    @property
    def title(self) -> str:
        """As the feature names it: "Paso 4.3 — Restaurar base de datos", "4.1 — …"."""
        paso = self.scenario
        return f"Paso {paso.number} — {paso.name}" if paso.number else paso.name


@dataclass
class Node:
    heading: Heading
    scenarios: list[Covering] = field(default_factory=list)
    features: list[Feature] = field(default_factory=list)  # whole features covering it
    in_document: bool = True  # False: a Paso rollbook adds to an Etapa ("Paso 4.0")
    status: str = ""
    who: str | None = None  # manual: the roles of its §3.1 RACI activity, when one fits
    note: str = ""  # why rollbook does not execute it
    commands: list[Command] = field(default_factory=list)  # the plan's, for this Paso


@dataclass
class Trace:
    document: ProcedureDocument
    features: list[Feature]
    nodes: list[Node]  # the document's sections in its order, rollbook's added Pasos among them
    unplaced: list[Covering] = field(default_factory=list)  # scenarios that match no section
    plan: Plan | None = None
    stray: list[Command] = field(default_factory=list)  # plan commands of no Paso shown


def scenario_number(scenario: Scenario) -> str | None:
    """ "4.3" for "Paso 4.3 — …", "4.1" for "4.1 — …"; None for a name without a number."""
    if scenario.number:
        return scenario.number
    match = _NUMBERED_NAME.match(scenario.name)
    return match.group(1) if match else None


def feature_section(feature: Feature) -> str | None:
    """ "§9" for "PROCED-BACK-003 §9 — …", "Anexo C" for "… Anexo C — …"; None otherwise."""
    match = _FEATURE_SECTION.search(feature.name)
    if not match:
        return None
    return f"§{match.group(1)}" if match.group(1) else f"Anexo {match.group(2)}"


def _under(heading: Heading | None, ancestor: Heading) -> bool:
    while heading is not None:
        if heading is ancestor:
            return True
        heading = heading.parent
    return False


def _add_paso(trace: Trace, by_key: dict[str, Node], covering: Covering, number: str) -> bool:
    """A Paso rollbook adds to an Etapa of the document, placed in number order among its
    Pasos; False when the document has no such Etapa."""
    etapa = by_key.get(f"Etapa {number.split('.')[0]}")
    if etapa is None:
        return False
    if f"Paso {number}" not in by_key:
        name = covering.scenario.name
        heading = Heading(PASO, number, name, f"Paso {number}: {name}", 4, parent=etapa.heading)
        order = [int(part) for part in number.split(".")]
        index = trace.nodes.index(etapa) + 1
        while index < len(trace.nodes) and trace.nodes[index].heading.parent is etapa.heading:
            if [int(p) for p in trace.nodes[index].heading.number.split(".")] > order:
                break
            index += 1
        by_key[heading.key] = Node(heading, in_document=False)
        trace.nodes.insert(index, by_key[heading.key])
    by_key[f"Paso {number}"].scenarios.append(covering)
    return True


def _place(trace: Trace, by_key: dict[str, Node], feature: Feature) -> None:
    section = by_key.get(feature_section(feature) or "")
    if section is not None:
        section.features.append(feature)
    for covering in (Covering(feature.source, scenario) for scenario in feature.scenarios):
        number, named_paso = covering.number, covering.scenario.number is not None
        sub = by_key.get(f"§{number}") if number else None
        if named_paso and f"Paso {number}" in by_key:  # "Paso 4.1 — …", not "4.1 — …"
            by_key[f"Paso {number}"].scenarios.append(covering)
        elif sub and (section is None or _under(sub.heading, section.heading)):
            sub.scenarios.append(covering)
        elif section is not None:
            section.scenarios.append(covering)
        elif not (named_paso and number and _add_paso(trace, by_key, covering, number)):
            trace.unplaced.append(covering)


def _status(trace: Trace, node: Node, children: list[Node]) -> None:
    covered = bool(node.scenarios or node.features)
    done = [c.status for c in children if c.status != INFORMATIVO]
    if covered or any(s in (EJECUTADO, PARCIAL) for s in done):
        node.status = EJECUTADO if all(s == EJECUTADO for s in done) else PARCIAL
        return
    node.status, node.who, node.note = not_executed(trace.document, node.heading)
    if MANUAL in done:  # a parent is manual when any of its sub-sections is
        node.status, node.who = MANUAL, None
        node.note = "manual en " + ", ".join(c.heading.key for c in children if c.status == MANUAL)
    elif children:
        node.status = INFORMATIVO


def build(document: ProcedureDocument, features: list[Feature], plan: Plan | None) -> Trace:
    trace = Trace(document, features, [Node(heading) for heading in document.headings], plan=plan)
    by_key = {node.heading.key: node for node in trace.nodes}
    for feature in features:
        _place(trace, by_key, feature)
    for command in plan.commands if plan else []:  # "4.3": Paso 4.3; "§9": the section
        node = by_key.get(command.paso if command.paso.startswith("§") else f"Paso {command.paso}")
        (node.commands if node else trace.stray).append(command)
    for node in reversed(trace.nodes):  # children come after their parent
        children = [n for n in trace.nodes if n.heading.parent is node.heading and n.in_document]
        _status(trace, node, children)
    return trace


def read_plan(path: Path) -> Plan:
    fix = "pass the plan.json of a dry run (reports/<incident-id>/plan.json)"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the plan: {exc.strerror} — {fix}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not JSON ({str(exc).splitlines()[0]}) — {fix}") from None
    entries = data.get("commands") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UserError(f'{path}: no "commands" list: not a rollbook plan — {fix}')
    commands = []
    for entry in entries:
        ok = isinstance(entry, dict) and isinstance(entry.get("argv"), list)
        if not ok or not all(isinstance(entry.get(k), str) for k in ("paso", "host")):
            raise UserError(f"{path}: a command without paso, host and argv: {entry!r} — {fix}")
        cwd = entry.get("cwd")
        commands.append(
            Command(
                entry["paso"],
                entry["host"],
                [str(a) for a in entry["argv"]],
                str(cwd) if cwd else None,
            )
        )
    return Plan(str(path), data.get("incident"), data.get("environment"), commands)


def counts(trace: Trace) -> dict[str, int]:
    """Per status, the document's sections (rollbook's added Pasos not counted)."""
    nodes = [n for n in trace.nodes if n.in_document]
    return {status: sum(n.status == status for n in nodes) for status in STATUSES}


# --- the trace in words, for both formats ---------------------------------------------------


def declared_check(feature: Feature, document: ProcedureDocument) -> str:
    """Whether the feature says it executes this document, at this version; ⚠ when not."""
    expected = f"{document.id} v{document.version}"
    if feature.declared is None:
        return "⚠ sin la línea «# procedimiento:» — no dice qué versión ejecuta"
    if not feature.declared.startswith(expected + " ") and feature.declared != expected:
        return f"⚠ distinta del documento ({expected})"
    return "la del documento"


def facts(trace: Trace, node: Node) -> list[tuple[str, str]]:
    """(label, text) shown under a section's heading."""
    facts = [("Estado", node.status)]
    if not node.in_document:
        document = trace.document
        facts.append(
            ("Origen", f"Paso añadido por rollbook: no figura en {document.id} v{document.version}")
        )
    budget = etapa_budget(trace.document, node.heading)
    if budget:
        facts.append(("Presupuesto", budget))
    criterion = success_criterion(node.heading)
    if criterion:
        facts.append(("Criterio de Exito (documento)", f"«{criterion}»"))
    facts += [("Característica", f"{f.source} — {f.name}") for f in node.features]
    if node.who:
        facts.append(("Quién", node.who))
    if node.note:
        facts.append(("Nota", node.note))
    return facts


def covered_by(trace: Trace, node: Node) -> str:
    """The coverage table's last column: what covers it, else who does it or why not."""
    sources: dict[str, list[str]] = {f.source: ["característica completa"] for f in node.features}
    for covering in node.scenarios:
        sources.setdefault(covering.source, []).append(covering.title)
    parts = [f"{source}: {'; '.join(titles)}" for source, titles in sources.items()]
    children = [n for n in trace.nodes if n.heading.parent is node.heading and n.in_document]
    if children and node.status in (EJECUTADO, PARCIAL):
        for status in (EJECUTADO, PARCIAL, MANUAL):
            keys = [n.heading.key for n in children if n.status == status]
            parts += [f"{status}: {', '.join(keys)}"] if keys else []
    return " — ".join(parts or [text for text in (node.who, node.note) if text])


def totals(trace: Trace) -> str:
    per_status = counts(trace)
    pasos = [n for n in trace.nodes if n.heading.kind == PASO]
    in_document = [n for n in pasos if n.in_document]
    covered = sum(bool(n.scenarios) for n in in_document)
    return (
        f"{sum(per_status.values())} secciones del documento: "
        + " · ".join(f"{status} {count}" for status, count in per_status.items())
        + f". Pasos del documento cubiertos por un escenario: {covered} de {len(in_document)}"
        + f". Pasos añadidos por rollbook: {len(pasos) - len(in_document)}."
    )
