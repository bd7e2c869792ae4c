"""`rollbook procedure`: the written procedure, section by section, with what executes each one;
an auditor reads it against the document. Nothing runs.

The document's numbered sections in its order (procedure_document), each with its status and
what covers it (traceability): under a Paso its Escenarios with their steps, the Criterio de Exito
(the last Entonces block) highlighted, the Ejemplos of an Esquema del escenario, and the commands
of a dry-run plan; at the end, the coverage table. Markdown or self-contained HTML.
"""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

from rollbook.record import traceability
from rollbook.record.procedure_document import read_document
from rollbook.record.traceability import Covering, Node, Step, Table, Trace, read_feature

FORMATS = ("md", "html")
CRITERION = "Criterio de Exito"
EXAMPLES = "Ejemplos"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52em; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; color: #2a4d7a; }
.source { color: #666; font-family: monospace; }
h3, h4 { margin-top: 1.5em; }
.facts { color: #333; }
.status { font-weight: bold; padding: 0 .4em; border-radius: 3px; }
.status.ejecutado { background: #e5f4e3; } .status.parcial { background: #fdf0c8; }
.status.manual { background: #fbe0dc; } .status.informativo { background: #e8e8e8; }
.paso { border-left: 4px solid #2a4d7a; padding: .2em 1em; margin: 1em 0; background: #f6f8fb; }
.tags code { background: #e3e8f0; padding: 0 .3em; margin-right: .3em; border-radius: 3px; }
.keyword { font-weight: bold; }
.criterion { background: #e5f4e3; border: 1px solid #7bb66f; padding: .1em .4em; }
.criterion .label { font-size: .85em; color: #2e6b23; font-weight: bold; margin-left: .5em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #bbb; padding: .1em .5em; text-align: left; }
"""


def _command(command: traceability.Command) -> tuple[str, str | None, str]:
    return command.host, command.cwd, shlex.join(command.argv)


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


def _md_scenario(covering: Covering) -> list[str]:
    paso = covering.scenario
    lines = [f"##### Escenario: {_md(covering.title)}", ""]
    lines += [" ".join([_md_code(covering.source), _md_tags(paso.tags)]).strip(), ""]
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


def _md_commands(commands: list[traceability.Command], title: str) -> list[str]:
    lines = [f"{title}:", ""]
    for n, (host, cwd, argv) in enumerate(map(_command, commands), 1):
        where = f" en {_md_code(cwd)}" if cwd else ""
        lines.append(f"{n}. {_md_code(host)}{where}: {_md_code(argv)}")
    return [*lines, ""]


def _md_node(trace: Trace, node: Node) -> list[str]:
    lines = [f"{'#' * node.heading.level} {_md(node.heading.text)}", ""]
    lines += [f"- **{label}:** {_md(text)}" for label, text in traceability.facts(trace, node)]
    lines.append("")
    for covering in node.scenarios:
        lines += _md_scenario(covering)
    if node.commands:
        lines += _md_commands(node.commands, "Comandos del plan")
    return lines


def _md_header(trace: Trace) -> list[str]:
    document, plan = trace.document, trace.plan
    lines = [f"# Trazabilidad — {_md(document.title)}", ""]
    lines += [
        f"- **Documento:** {_md_code(document.path)} — {_md(str(document.id))}, "
        f"versión {_md(str(document.version))}"
    ]
    if plan:
        lines.append(
            f"- **Plan:** {_md_code(plan.path)} — incidente {_md(str(plan.incident))}, "
            f"ambiente {_md(str(plan.environment))}, "
            f"{len(plan.commands)} comandos"
        )
    else:
        lines.append(f"- **Plan:** ninguno — {_md(WITHOUT_PLAN)}")
    lines += ["", "| Archivo | Característica | Ejecuta | Versión |", "| --- | --- | --- | --- |"]
    for feature in trace.features:
        check = traceability.declared_check(feature, document)
        check = f"**{_md(check)}**" if check.startswith("⚠") else _md(check)
        declared = _md(feature.declared or "—")
        lines.append(f"| {_md_code(feature.source)} | {_md(feature.name)} | {declared} | {check} |")
    lines.append("")
    for feature in (f for f in trace.features if f.background):
        lines += [
            f"**{_md(feature.background_keyword)}** de {_md_code(feature.source)} "
            "(antes de cada uno de sus escenarios):",
            "",
        ]
        lines += [f"- **{_md(s.keyword)}** {_md(s.text)}" for s in feature.background]
        lines.append("")
    return lines


def _md_coverage(trace: Trace) -> list[str]:
    lines = []
    if trace.unplaced or trace.stray:
        lines += ["## Sin sección en el documento", ""]
        unplaced = [f"- {_md_code(c.source)}: {_md(c.title)}" for c in trace.unplaced]
        lines += [*unplaced, ""] if unplaced else []
        lines += _md_commands(trace.stray, "Comandos del plan sin Paso") if trace.stray else []
    lines += ["## Cobertura", "", "| Sección | Título | Estado | Cubierto por |"]
    lines.append("| --- | --- | --- | --- |")
    for node in trace.nodes:
        title = node.heading.title + ("" if node.in_document else " (añadido por rollbook)")
        cells = [node.heading.key, title, node.status, traceability.covered_by(trace, node)]
        lines.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    return [*lines, "", _md(traceability.totals(trace)), ""]


def render_markdown(trace: Trace) -> str:
    lines = _md_header(trace)
    for node in trace.nodes:
        lines += _md_node(trace, node)
    return "\n".join(lines + _md_coverage(trace))


# --- HTML --------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text))


def _html_step(step: Step, criterion: bool = False, label: bool = False) -> str:
    text = f'<span class="keyword">{_e(step.keyword)}</span> {_e(step.text)}'
    if label:
        text += f'<span class="label">{CRITERION}</span>'
    return f'<li class="criterion">{text}</li>' if criterion else f"<li>{text}</li>"


def _html_table(rows: Table, attributes: str = "") -> list[str]:
    header = "".join(f"<th>{_e(cell)}</th>" for cell in rows[0])
    body = ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows[1:]]
    return [f"<table{attributes}>", f"<tr>{header}</tr>", *body, "</table>"]


def _html_scenario(covering: Covering) -> list[str]:
    paso = covering.scenario
    last = paso.criterion[-1] if paso.criterion else None
    steps = [_html_step(s, i in paso.criterion, i == last) for i, s in enumerate(paso.steps)]
    tags = "".join(f"<code>{_e(tag)}</code>" for tag in paso.tags)
    tables = [line for t in paso.examples for line in [f"<p>{EXAMPLES}:</p>", *_html_table(t)]]
    return [
        '<article class="paso">',
        f"<h5>Escenario: {_e(covering.title)}</h5>",
        f'<p class="tags"><span class="source">{_e(covering.source)}</span> {tags}</p>',
        '<ul class="steps">',
        *steps,
        "</ul>",
        *tables,
        "</article>",
    ]


def _html_commands(commands: list[traceability.Command], title: str) -> list[str]:
    items = [
        f"<li><code>{_e(host)}</code>"
        + (f" en <code>{_e(cwd)}</code>" if cwd else "")
        + f": <code>{_e(argv)}</code></li>"
        for host, cwd, argv in map(_command, commands)
    ]
    return [f'<p class="commands">{_e(title)}:</p>', "<ol>", *items, "</ol>"]


def _html_node(trace: Trace, node: Node) -> list[str]:
    heading, level = node.heading, node.heading.level
    anchor = re.sub(r"[^a-z0-9.]+", "-", heading.key.lower().replace("§", "seccion-"))
    facts = [
        f'<span class="status {_e(text)}">{_e(text)}</span>'
        if label == "Estado"
        else f"<strong>{_e(label)}:</strong> {_e(text)}"
        for label, text in traceability.facts(trace, node)
    ]
    lines = [
        f'<h{level} id="{_e(anchor)}" data-key="{_e(heading.key)}">{_e(heading.text)}</h{level}>',
        f'<p class="facts">{" · ".join(facts)}</p>',
    ]
    for covering in node.scenarios:
        lines += _html_scenario(covering)
    return lines + (_html_commands(node.commands, "Comandos del plan") if node.commands else [])


def _html_header(trace: Trace) -> list[str]:
    document, plan = trace.document, trace.plan
    lines = [
        f"<h1>Trazabilidad — {_e(document.title)}</h1>",
        f'<p><strong>Documento:</strong> <span class="source">{_e(document.path)}</span> — '
        f"{_e(document.id)}, versión {_e(document.version)}</p>",
    ]
    if plan:
        lines.append(
            f'<p><strong>Plan:</strong> <span class="source">{_e(plan.path)}</span> — '
            f"incidente {_e(plan.incident)}, ambiente {_e(plan.environment)}, "
            f"{len(plan.commands)} comandos</p>"
        )
    else:
        lines.append(f"<p><strong>Plan:</strong> ninguno — {_e(WITHOUT_PLAN)}</p>")
    rows = [["Archivo", "Característica", "Ejecuta", "Versión"]]
    rows += [
        [f.source, f.name, f.declared or "—", traceability.declared_check(f, document)]
        for f in trace.features
    ]
    lines += _html_table(rows, ' id="caracteristicas"')
    for feature in (f for f in trace.features if f.background):
        lines += [
            f"<p><strong>{_e(feature.background_keyword)}</strong> de "
            f'<span class="source">{_e(feature.source)}</span> (antes de cada uno de sus '
            "escenarios):</p>",
            '<ul class="steps">',
            *(_html_step(step) for step in feature.background),
            "</ul>",
        ]
    return lines


def _html_coverage(trace: Trace) -> list[str]:
    lines = []
    if trace.unplaced or trace.stray:
        lines.append("<h2>Sin sección en el documento</h2>")
        unplaced = [f"<li>{_e(c.source)}: {_e(c.title)}</li>" for c in trace.unplaced]
        lines += ["<ul>", *unplaced, "</ul>"] if unplaced else []
        lines += _html_commands(trace.stray, "Comandos del plan sin Paso") if trace.stray else []
    rows = [["Sección", "Título", "Estado", "Cubierto por"]]
    for node in trace.nodes:
        title = node.heading.title + ("" if node.in_document else " (añadido por rollbook)")
        rows.append([node.heading.key, title, node.status, traceability.covered_by(trace, node)])
    lines += ['<h2 id="cobertura">Cobertura</h2>', *_html_table(rows, ' id="tabla-cobertura"')]
    return [*lines, f'<p class="totals">{_e(traceability.totals(trace))}</p>']


def render_html(trace: Trace) -> str:
    body = _html_header(trace)
    for node in trace.nodes:
        body += _html_node(trace, node)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="es">',
            '<head><meta charset="utf-8">',
            f"<title>Trazabilidad — {_e(trace.document.title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            *_html_coverage(trace),
            "</body>",
            "</html>",
            "",
        ]
    )


WITHOUT_PLAN = (
    "los comandos de cada Paso salen de un dry-run del ambiente: pytest features/rollback.feature "
    "--env=AMBIENTE --dry-run, luego rollbook procedure ... --plan reports/<incidente>/plan.json"
)


def render(paths: list[Path], output_format: str, document: Path, plan: Path | None = None) -> str:
    """The procedure document at `document`, section by section, against the features at
    `paths` (and the commands of a dry run's plan.json), as Markdown or self-contained HTML."""
    trace = traceability.build(
        read_document(document),
        [read_feature(path) for path in paths],
        traceability.read_plan(plan) if plan else None,
    )
    return render_html(trace) if output_format == "html" else render_markdown(trace)
