"""report.html in the procedure's language: pytest-html's own labels (its page template and the
column names) said in Spanish. Only the template's exact fragments are replaced, never the data
of the run: each row's result word (Passed, Skipped …) stays pytest-html's, since its page sorts
and filters the rows by that very word."""

from __future__ import annotations

import re
from pathlib import Path

HEADERS = {"Result": "Resultado", "Test": "Escenario", "Duration": "Duración", "Links": "Enlaces"}
_FILTERS = {
    "Failed": "fallidos",
    "Passed": "correctos",
    "Skipped": "omitidos",
    "Expected failures": "fallos esperados",
    "Unexpected passes": "éxitos inesperados",
    "Errors": "errores",
    "Reruns": "repetidos",
    "Retried": "reintentados",
}
_TEMPLATE = [
    ("<h2>Environment</h2>", "<h2>Registro del incidente</h2>"),
    ("<h2>Summary</h2>", "<h2>Resumen</h2>"),
    (
        '<p class="filter">(Un)check the boxes to filter the results.</p>',
        '<p class="filter">Marque o desmarque las casillas para filtrar los Pasos.</p>',
    ),
    (">Show all details<", ">Mostrar todo el detalle<"),
    (">Hide all details<", ">Ocultar el detalle<"),
    ("No results found. Check the filters.", "Ningún Paso con estos filtros."),
    (
        "There are still tests running. <br />Reload this page to get the latest results!",
        "La corrida sigue. <br />Recargue la página para ver los últimos Pasos.",
    ),
]
_GENERATED = re.compile(r"<p>Report generated on ([^<]+?) at ([0-9:]+) by ")
_RUN_COUNT = re.compile(r'<p class="run-count">(\d+) tests? took ([^<]+?)\.</p>')
_FILTER = re.compile(r'(<span class="\w+">\d+ )([A-Za-z ]+?)(,?</span>)')


def header(cell: str) -> str:
    """A results-table header cell in Spanish (its data-column-type kept for sorting)."""
    return re.sub(r">(\w+)</th>$", lambda m: f">{HEADERS.get(m.group(1), m.group(1))}</th>", cell)


def spanish(html: str) -> str:
    """pytest-html's page template in Spanish; the run's data (the JSON the page draws) as is."""
    head, marker, data = html.partition('<div id="data-container"')
    for english, said in _TEMPLATE:
        head = head.replace(english, said)
    head = _GENERATED.sub(r"<p>Registro generado el \1 a las \2 con ", head)
    head = _RUN_COUNT.sub(r'<p class="run-count">\1 Pasos ejecutados en \2.</p>', head)
    head = _FILTER.sub(
        lambda m: m.group(1) + _FILTERS.get(m.group(2), m.group(2)) + m.group(3), head
    )
    return head + marker + data


def localize(report: Path) -> None:
    """Rewrite report.html in Spanish, before it is hashed and signed."""
    if report.is_file():
        report.write_text(spanish(report.read_text(encoding="utf-8")), encoding="utf-8")
