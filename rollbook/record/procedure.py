"""`rollbook procedure`: the feature files as one document an auditor reads; nothing runs.

Per feature: its name, tags and description, its Antecedentes steps once, then per Etapa (the
@etapaN tag) each Escenario with its Paso number, name, tags and steps, its Criterio de Exito (the
last step of its Entonces block) highlighted, and the Ejemplos of an Esquema del escenario.
Escenarios without an Etapa are listed under their feature.
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from pytest_bdd.exceptions import GherkinParseError
from pytest_bdd.gherkin_parser import Scenario, get_gherkin_document

from rollbook.core.errors import UserError

FORMATS = ("md", "html")
CRITERION = "Criterio de Exito"
EXAMPLES = "Ejemplos"
_ETAPA_TAG = re.compile(r"^@etapa(\d+)$")
_PASO_NAME = re.compile(r"^Paso (\d+(?:\.\d+)*)\s*(?:—|-|:)?\s*(.*)$")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52em; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; color: #2a4d7a; }
.source { color: #666; font-family: monospace; }
.description { white-space: pre-line; }
.paso { border-left: 4px solid #2a4d7a; padding: .2em 1em; margin: 1em 0; background: #f6f8fb; }
.tags code { background: #e3e8f0; padding: 0 .3em; margin-right: .3em; border-radius: 3px; }
.keyword { font-weight: bold; }
.criterion { background: #e5f4e3; border: 1px solid #7bb66f; padding: .1em .4em; }
.criterion .label { font-size: .85em; color: #2e6b23; font-weight: bold; margin-left: .5em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #bbb; padding: .1em .5em; text-align: left; }
"""


Table = list[list[str]]  # the header row first


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str


@dataclass(frozen=True)
class Paso:
    number: str | None  # "4.3", from "Paso 4.3 — …"; None when the name has no Paso number
    name: str
    tags: list[str]
    steps: list[Step]
    criterion: list[int]  # indices in `steps` of the Criterio de Exito: the last Entonces block
    examples: list[Table]


@dataclass(frozen=True)
class Section:
    etapa: str | None  # None: the feature's Escenarios without an @etapaN tag
    pasos: list[Paso]


@dataclass(frozen=True)
class Feature:
    source: str
    name: str
    tags: list[str]
    description: str
    background_keyword: str
    background: list[Step]
    sections: list[Section]


def _criterion(scenario: Scenario) -> list[int]:
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


def _etapa(paso: Paso) -> str | None:
    numbers = [m.group(1) for m in map(_ETAPA_TAG.match, paso.tags) if m]
    return numbers[0] if numbers else None


def _paso(scenario: Scenario) -> Paso:
    match = _PASO_NAME.match(scenario.name)
    return Paso(
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
    pasos = [_paso(child.scenario) for child in children if child.scenario]
    return Feature(
        source=str(path),
        name=feature.name,
        tags=[tag.name for tag in feature.tags],
        description=textwrap.dedent(feature.description).strip(),
        background_keyword=backgrounds[0].keyword if backgrounds else "",
        background=[Step(s.keyword, s.text) for b in backgrounds for s in b.steps],
        sections=[Section(etapa, list(group)) for etapa, group in groupby(pasos, key=_etapa)],
    )


def _title(paso: Paso) -> str:
    return f"Paso {paso.number} — {paso.name}" if paso.number else paso.name


# --- Markdown ----------------------------------------------------------------------------------


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _md_code(text: str) -> str:
    return f"`{text.replace('`', '')}`"


def _md_tags(tags: list[str]) -> str:
    return " ".join(_md_code(tag) for tag in tags)


def _md_table(table: Table) -> list[str]:
    rows = ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table]
    return [rows[0], "|" + " --- |" * len(table[0]), *rows[1:], ""]


def _md_paso(paso: Paso) -> list[str]:
    lines = [f"### {_md(_title(paso))}", ""]
    if paso.tags:
        lines += [_md_tags(paso.tags), ""]
    for index, step in enumerate(paso.steps):
        if index in paso.criterion:
            label = f" — _{CRITERION}_" if index == paso.criterion[-1] else ""
            lines.append(f"- **{_md(step.keyword)} {_md(step.text)}**{label}")
        else:
            lines.append(f"- **{_md(step.keyword)}** {_md(step.text)}")
    lines.append("")
    for table in paso.examples:
        lines += [f"{EXAMPLES}:", "", *_md_table(table)]
    return lines


def _md_feature(feature: Feature) -> list[str]:
    lines = [f"# {_md(feature.name)}", "", _md_code(feature.source), ""]
    if feature.tags:
        lines += [_md_tags(feature.tags), ""]
    if feature.description:
        lines += [_md(feature.description), ""]
    if feature.background:
        lines += [f"**{_md(feature.background_keyword)}** (antes de cada Escenario):", ""]
        lines += [f"- **{_md(s.keyword)}** {_md(s.text)}" for s in feature.background]
        lines.append("")
    for section in feature.sections:
        if section.etapa is not None:
            lines += [f"## Etapa {section.etapa}", ""]
        for paso in section.pasos:
            lines += _md_paso(paso)
    return lines


def render_markdown(features: list[Feature]) -> str:
    return "\n".join(line for feature in features for line in _md_feature(feature))


# --- HTML --------------------------------------------------------------------------------------


def _html_step(step: Step, criterion: bool = False, label: bool = False) -> str:
    text = f'<span class="keyword">{html.escape(step.keyword)}</span> {html.escape(step.text)}'
    if label:
        text += f'<span class="label">{CRITERION}</span>'
    return f'<li class="criterion">{text}</li>' if criterion else f"<li>{text}</li>"


def _html_tags(tags: list[str]) -> str:
    codes = "".join(f"<code>{html.escape(tag)}</code>" for tag in tags)
    return f'<p class="tags">{codes}</p>' if codes else ""


def _html_table(table: Table) -> list[str]:
    header = "".join(f"<th>{html.escape(cell)}</th>" for cell in table[0])
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table[1:]
    ]
    return [f"<p>{EXAMPLES}:</p>", "<table>", f"<tr>{header}</tr>", *rows, "</table>"]


def _html_paso(paso: Paso) -> list[str]:
    last = paso.criterion[-1] if paso.criterion else None
    steps = [_html_step(s, i in paso.criterion, i == last) for i, s in enumerate(paso.steps)]
    tables = [line for table in paso.examples for line in _html_table(table)]
    return [
        '<article class="paso">',
        f"<h3>{html.escape(_title(paso))}</h3>",
        _html_tags(paso.tags),
        '<ul class="steps">',
        *steps,
        "</ul>",
        *tables,
        "</article>",
    ]


def _html_feature(feature: Feature) -> list[str]:
    lines = [
        '<section class="feature">',
        f"<h1>{html.escape(feature.name)}</h1>",
        f'<p class="source">{html.escape(feature.source)}</p>',
        _html_tags(feature.tags),
    ]
    if feature.description:
        lines.append(f'<p class="description">{html.escape(feature.description)}</p>')
    if feature.background:
        lines += [
            f"<p><strong>{html.escape(feature.background_keyword)}</strong> "
            "(antes de cada Escenario):</p>",
            '<ul class="steps">',
            *(_html_step(step) for step in feature.background),
            "</ul>",
        ]
    for section in feature.sections:
        if section.etapa is not None:
            lines.append(f"<h2>Etapa {html.escape(section.etapa)}</h2>")
        for paso in section.pasos:
            lines += _html_paso(paso)
    return [*lines, "</section>"]


def render_html(features: list[Feature]) -> str:
    title = " · ".join(feature.name for feature in features)
    body = [line for feature in features for line in _html_feature(feature) if line]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="es">',
            '<head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def render(paths: list[Path], output_format: str) -> str:
    """The features at `paths` as one Markdown or self-contained HTML document."""
    features = [read_feature(path) for path in paths]
    return render_html(features) if output_format == "html" else render_markdown(features)
