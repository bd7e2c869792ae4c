"""report.html in Spanish: pytest-html's real page, its labels replaced, its data untouched."""

import re
import subprocess
import sys
from pathlib import Path

from rollbook.record import report_language

ENGLISH = [
    "<h2>Environment</h2>",
    "<h2>Summary</h2>",
    "(Un)check the boxes",
    "Show all details",
    "Hide all details",
    "No results found",
    "Report generated on",
    " Failed,</span>",
    " Passed,</span>",
    " Skipped,</span>",
    " tests took ",
]


def real_report(tmp_path: Path) -> str:
    """pytest-html's page for a run with a passed, a failed and a skipped test."""
    (tmp_path / "test_three.py").write_text(
        "import pytest\n"
        "def test_ok(): assert True\n"
        "def test_bad(): assert 'Show all details' == 'Passed'\n"
        "def test_skip(): pytest.skip('Summary')\n"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--noconftest",
            f"--html={tmp_path / 'report.html'}",
            "--self-contained-html",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    return (tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_template_is_said_in_spanish_and_the_data_is_kept(tmp_path: Path) -> None:
    english = real_report(tmp_path)
    head = english.partition('<div id="data-container"')[0]
    assert all(label in head for label in ENGLISH), "pytest-html's template changed"
    spanish = report_language.spanish(english)
    head, _, data = spanish.partition('<div id="data-container"')
    assert [label for label in ENGLISH if label in head] == []
    assert "<h2>Resumen</h2>" in head and "Registro generado el " in head
    assert re.search(r'<p class="run-count">2 Pasos ejecutados en [^<]+\.</p>', head), head
    assert re.search(r'<span class="failed">1 fallidos,</span>', head)
    assert data == english.partition('<div id="data-container"')[2]  # the run's own words stay


def test_table_cells() -> None:
    th = '<th class="sortable" data-column-type="duration">Duration</th>'
    assert report_language.header(th) == th.replace(">Duration<", ">Duración<")
    assert report_language.header("<th>Paso</th>") == "<th>Paso</th>"
