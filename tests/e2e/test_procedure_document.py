"""`rollbook procedure --format html` drawn by headless Chromium: the coverage table and every
Paso of the document are in the page's DOM. Needs no sandbox."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rollbook import cli

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "procedures" / "PROCED-BACK-003.md"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_in_chromium(tmp_path: Path) -> None:
    output = tmp_path / "procedure.html"
    features = [str(path) for path in sorted((ROOT / "features").glob("*.feature"))]
    argv = ["procedure", *features, "--document", str(DOCUMENT), "--format", "html"]
    assert cli.main([*argv, "--output", str(output)]) == 0
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ]
    dom = subprocess.run(
        ["chromium", *flags, "--dump-dom", output.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    pasos = re.findall(r"^#### (Paso \d+\.\d+):", DOCUMENT.read_text(encoding="utf-8"), re.M)
    drawn = re.findall(r'<h4 id="[^"]+" data-key="(Paso [\d.]+)">', dom)
    assert len(pasos) == 24 and [p for p in drawn if p in pasos] == pasos
    table = dom[
        dom.index('<table id="tabla-cobertura">') : dom.index(
            "</table>", dom.index('id="tabla-cobertura"')
        )
    ]
    assert all(f"<td>{paso}</td>" in table for paso in pasos)
    assert re.search(r'class="totals">\d+ secciones del documento: ejecutado \d+', dom)
