"""`rollbook procedure`: the features as a document for auditors, without running anything."""

import re
from pathlib import Path

import pytest

from rollbook import cli
from rollbook.record.procedure import CRITERION, read_feature, render

ROOT = Path(__file__).resolve().parents[2]
ROLLBACK = ROOT / "features" / "rollback.feature"


def feature_scenarios(path: Path) -> list[tuple[str, list[str]]]:
    """(scenario name, its last Entonces block: the Entonces and its Y lines), from the file."""
    scenarios: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("Escenario:"):
            scenarios.append((line.removeprefix("Escenario:").strip(), []))
            in_outcome = False
        elif line.startswith("Entonces "):
            scenarios[-1][1][:] = [line]
            in_outcome = True
        elif line.startswith("Y ") and in_outcome:
            scenarios[-1][1].append(line)
        elif line:
            in_outcome = False
    return scenarios


def test_every_paso_in_order_under_its_etapa() -> None:
    feature = read_feature(ROLLBACK)
    pasos = [paso for section in feature.sections for paso in section.pasos]
    titles = [f"Paso {paso.number} — {paso.name}" for paso in pasos]
    assert titles == [name for name, _ in feature_scenarios(ROLLBACK)]
    for section in feature.sections:
        assert all(f"@etapa{section.etapa}" in paso.tags for paso in section.pasos)
    # Paso 4.0 (swap strategy) runs before Etapa 2: the auditor sees it where it runs
    assert [s.etapa for s in feature.sections] == ["1", "4", "2", "3", "4", "5", "6", "7"]


def test_criteria_are_the_last_entonces() -> None:
    feature = read_feature(ROLLBACK)
    expected = dict(feature_scenarios(ROLLBACK))
    for paso in (paso for section in feature.sections for paso in section.pasos):
        criterion = [f"{paso.steps[i].keyword} {paso.steps[i].text}" for i in paso.criterion]
        assert criterion[0].startswith("Entonces ")
        assert criterion == expected[f"Paso {paso.number} — {paso.name}"]


def test_markdown_lists_pasos_in_order_with_background_once() -> None:
    document = render([ROLLBACK], "md")
    headings = re.findall(r"^### (Paso [\d.]+) ", document, flags=re.MULTILINE)
    assert headings == [name.split(" — ")[0] for name, _ in feature_scenarios(ROLLBACK)]
    assert document.count("el ambiente del incidente cargado") == 1
    assert document.count(f"— _{CRITERION}_") == len(headings)
    assert "## Etapa 4" in document and "`@base_de_datos`" in document


def test_html_is_self_contained_and_highlights_criteria() -> None:
    document = render([ROLLBACK], "html")
    assert document.startswith("<!DOCTYPE html>") and "<style>" in document
    assert "<link" not in document and "<script" not in document
    scenarios = feature_scenarios(ROLLBACK)
    assert document.count('class="label"') == len(scenarios)
    assert document.count('class="criterion"') == sum(len(block) for _, block in scenarios)
    assert "Paso 4.3 — Restaurar base de datos" in document


def hostile_feature(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.feature"
    path.write_text(
        "# language: es\n"
        "Característica: <b>Negrita</b> & co\n"
        "\n"
        "  Escenario: Paso 1.1 — <script>alert('x')</script>\n"
        "    Cuando se ejecuta <img src=x onerror=alert(1)>\n"
        '    Entonces nada pasa & todo "sigue"\n'
        "    Y el resto <i>también</i>\n",
        encoding="utf-8",
    )
    return path


def test_html_escapes_every_text(tmp_path: Path) -> None:
    document = render([hostile_feature(tmp_path)], "html")
    assert "<script>" not in document and "<img" not in document and "<b>" not in document
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in document
    assert "&lt;b&gt;Negrita&lt;/b&gt; &amp; co" in document


def test_untagged_scenarios_and_a_criterion_continued_by_y(tmp_path: Path) -> None:
    feature = read_feature(hostile_feature(tmp_path))
    assert [section.etapa for section in feature.sections] == [None]
    paso = feature.sections[0].pasos[0]
    assert paso.number == "1.1"
    assert [paso.steps[i].keyword for i in paso.criterion] == ["Entonces", "Y"]
    assert "<script>" not in render([hostile_feature(tmp_path)], "md")


def test_outline_examples_are_shown(tmp_path: Path) -> None:
    path = tmp_path / "outline.feature"
    path.write_text(
        "# language: es\nCaracterística: Árbol\n\n"
        "  Esquema del escenario: Caso <caso>\n"
        "    Cuando se evalúa <caso>\n    Entonces la rama es <rama>\n\n"
        "    Ejemplos:\n      | caso | rama |\n      | a<b | x\\|y |\n",
        encoding="utf-8",
    )
    assert read_feature(path).sections[0].pasos[0].examples == [[["caso", "rama"], ["a<b", "x|y"]]]
    assert "| a\\<b | x\\|y |" in render([path], "md")
    assert "<td>a&lt;b</td>" in render([path], "html")


def test_cli_writes_the_output_file(tmp_path: Path, capsys) -> None:
    output = tmp_path / "procedure.html"
    feature = str(ROLLBACK)
    assert cli.main(["procedure", feature, "--format", "html", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == render([ROLLBACK], "html")
    assert cli.main(["procedure", feature]) == 0
    assert capsys.readouterr().out == render([ROLLBACK], "md")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the feature file"),
        ("Escenario sin característica\n", "not valid Gherkin"),
        ("# only a comment\n", "no Característica"),
    ],
)
def test_cli_bad_feature_is_one_line(
    tmp_path: Path, capsys, content: str | None, expected: str
) -> None:
    path = tmp_path / "bad.feature"
    if content is not None:
        path.write_text(content)
    assert cli.main(["procedure", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"rollbook: error: {path}") and expected in err
    assert err.count("\n") == 1
