"""`rollbook procedure`: the procedure document, section by section, against the features that
execute it; nothing runs."""

import html
import json
import re
from pathlib import Path

import pytest

from rollbook import cli
from rollbook.record.procedure import CRITERION, render
from rollbook.record.traceability import read_feature

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "procedures" / "PROCED-BACK-003.md"
FEATURES = sorted((ROOT / "features").glob("*.feature"))
ROLLBACK = ROOT / "features" / "rollback.feature"
NUMBERED = re.compile(
    r"^(#{2,4}) ((?:\d+\. |\d+\.\d+ |ETAPA \d+: |Paso \d+\.\d+: |Anexo [A-Z]: ).*)$"
)


def document_headings(path: Path = DOCUMENT) -> list[tuple[int, str]]:
    """(level, text) of every numbered heading, read here without the code under test."""
    headings, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        fenced ^= line.startswith("```")
        match = None if fenced else NUMBERED.match(line.rstrip())
        if match:
            headings.append((len(match.group(1)), match.group(2)))
    return headings


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


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def block(markdown: str, heading: str) -> str:
    """The Markdown under `heading` (a whole line) up to the next heading of level 2 to 4."""
    start = markdown.index(f"\n{heading}\n")
    end = re.compile(r"^#{2,4} ", re.MULTILINE).search(markdown, start + len(heading) + 2)
    return markdown[start : end.start() if end else len(markdown)]


def coverage_rows(markdown: str) -> dict[str, list[str]]:
    table = markdown[markdown.index("## Cobertura") :].splitlines()
    rows = [re.split(r"(?<!\\) \| ", line.strip("| ")) for line in table if line.startswith("| ")]
    return {row[0]: row[1:] for row in rows[2:]}  # after the header and its rule


def test_the_regex_sees_the_document() -> None:
    headings = [text for _, text in document_headings()]
    assert len([h for h in headings if h.startswith("Paso ")]) == 24
    assert "13. CONTROL DE CAMBIOS" in headings and "14. APROBACIONES" in headings
    assert "Anexo D: Comandos Rapidos de Emergencia" in headings
    assert "Incidente: YYYY-MM-DD-HHMM" not in " ".join(headings)  # a fenced block is not read


def test_every_numbered_section_and_paso_in_document_order() -> None:
    markdown = render(FEATURES, "md", DOCUMENT)
    lines = markdown.splitlines()
    positions = [lines.index(f"{'#' * level} {text}") for level, text in document_headings()]
    assert positions == sorted(positions)
    page = render(FEATURES, "html", DOCUMENT)
    found = [page.index(f">{html.escape(text)}</h{level}>") for level, text in document_headings()]
    assert found == sorted(found)


def test_a_paso_lists_its_scenario_and_criterion() -> None:
    markdown = render(FEATURES, "md", DOCUMENT)
    criteria = dict(feature_scenarios(ROLLBACK))
    for level, text in document_headings():
        if not text.startswith("Paso "):
            continue
        number = text.split(":")[0]
        names = [name for name in criteria if name.startswith(f"{number} — ")]
        section = unescape(block(markdown, f"{'#' * level} {text}"))
        assert len(names) == 1 and f"Escenario: {names[0]}" in section, text
        assert "features/rollback.feature" in section
        *first, last = criteria[names[0]]  # the criterion: bold, the label on its last line
        assert all(f"- **{line}**\n" in section for line in first), text
        assert f"- **{last}** — _{CRITERION}_" in section, text


def test_time_budgets_from_anexo_b() -> None:
    markdown = render([ROLLBACK], "md", DOCUMENT)
    etapa = block(markdown, "### ETAPA 4: ROLLBACK DE BASE DE DATOS (10 minutos)")
    assert "10 min (Anexo B: «Rollback DB», acumulado 20 min)" in etapa
    paso = block(markdown, "#### Paso 2.2: Detener Servicios de Aplicacion")
    assert "dentro de los 2 min de la Etapa 2" in paso


def test_a_budget_the_heading_contradicts_is_flagged(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    text = DOCUMENT.read_text(encoding="utf-8")
    document.write_text(
        text.replace(
            "ETAPA 3: ROLLBACK DE CODIGO (3 minutos)", "ETAPA 3: ROLLBACK DE CODIGO (4 minutos)"
        )
    )
    etapa = block(render([ROLLBACK], "md", document), "### ETAPA 3: ROLLBACK DE CODIGO (4 minutos)")
    assert "3 min (Anexo B" in etapa and "⚠ el encabezado dice 4 minutos" in etapa


def test_whole_features_cover_their_sections() -> None:
    markdown = render(FEATURES, "md", DOCUMENT)
    rows = coverage_rows(markdown)
    assert rows["§8"][1] == "ejecutado" and "validation.feature" in rows["§8"][2]
    assert rows["Anexo C"][1] == "ejecutado" and "decision\\_tree.feature" in rows["Anexo C"][2]
    assert "4.1 — Acceso SSH a servidores" in rows["§4.1"][2]
    assert rows["§4.3"][1] == "manual" and rows["§4"][1] == "parcial"  # nothing checks §4.3
    assert "Paso 9.1 — Restaurar el estado previo al rollback" in rows["§9.1"][2]
    paso = block(markdown, "#### Paso 4.1: Crear Backup de Estado Actual (Por Seguridad)")
    assert "Acceso SSH" not in paso  # "4.1 — …" of §4 is not Paso 4.1


def test_uncovered_sections_are_manual_with_their_raci_role() -> None:
    markdown = render([ROLLBACK], "md", DOCUMENT)
    rows = coverage_rows(markdown)
    # the §3.1 row "Declarar necesidad de rollback | I | C | A | I | R"
    assert rows["§2.3"][1] == "manual"
    assert "R: Incident Manager; A: Tech Lead («Declarar necesidad de rollback»" in rows["§2.3"][2]
    assert rows["§9.2"][1] == "manual" and "R: DBA" in rows["§9.2"][2]
    assert rows["§8.1"][1] == "manual"  # validation.feature not given: nothing executes §8
    assert "no ejecutado por rollbook: ningún escenario lo cubre" in rows["§8.1"][2]
    assert rows["§10"][1] == "informativo" and "no ejecutado por rollbook" in rows["§10"][2]
    assert "R: DBA" in block(markdown, "### 9.2 Plan de Contingencia Ultima Instancia")


def test_coverage_counts_match_the_table() -> None:
    markdown = render(FEATURES, "md", DOCUMENT)
    rows = coverage_rows(markdown)
    in_document = [row for row in rows.values() if "(añadido por rollbook)" not in row[0]]
    assert len(in_document) == len(document_headings())
    for status in ("ejecutado", "parcial", "manual", "informativo"):
        assert f"{status} {sum(row[1] == status for row in in_document)}" in markdown
    assert "Pasos del documento cubiertos por un escenario: 24 de 24" in markdown
    added = [key for key, row in rows.items() if "(añadido por rollbook)" in row[0]]
    assert added == ["Paso 3.0", "Paso 3.4", "Paso 4.0", "Paso 4.5", "Paso 5.4", "Paso 6.5"]


def test_plan_commands_under_their_paso(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "incident": "INC-7",
                "environment": "staging",
                "commands": [
                    {
                        "paso": "4.3",
                        "host": "ssh://deploy@db",
                        "argv": ["pg_restore", "-d", "iact"],
                        "cwd": None,
                    },
                    {
                        "paso": "2.2",
                        "host": "ssh://deploy@app",
                        "argv": ["systemctl", "stop", "gunicorn"],
                        "cwd": "/var/www",
                    },
                    {
                        "paso": "4.0",
                        "host": "local://",
                        "argv": ["createdb", "sombra"],
                        "cwd": None,
                    },
                    {"paso": "42.1", "host": "local://", "argv": ["echo", "<b>"], "cwd": None},
                ],
            }
        )
    )
    markdown = render([ROLLBACK], "md", DOCUMENT, plan)
    restore = block(markdown, "#### Paso 4.3: Restaurar Base de Datos")
    assert "1. `ssh://deploy@db`: `pg_restore -d iact`" in restore and "systemctl" not in restore
    stop = block(markdown, "#### Paso 2.2: Detener Servicios de Aplicacion")
    assert "`ssh://deploy@app` en `/var/www`: `systemctl stop gunicorn`" in stop
    assert "`createdb sombra`" in block(
        markdown, "#### Paso 4.0: Adelantar la Etapa 4 con el servicio activo"
    )
    assert "Comandos del plan sin Paso" in markdown and "incidente INC-7" in markdown
    page = render([ROLLBACK], "html", DOCUMENT, plan)
    assert "<code>echo &#x27;&lt;b&gt;&#x27;</code>" in page and "<b>" not in page


def test_a_feature_of_another_version_is_flagged(tmp_path: Path) -> None:
    old = tmp_path / "old.feature"
    old.write_text(ROLLBACK.read_text(encoding="utf-8").replace("v1.0.0", "v0.9.0"))
    markdown = render([old, ROLLBACK], "md", DOCUMENT)
    assert "PROCED-BACK-003, versión 1.0.0" in markdown
    assert "PROCED-BACK-003 v0.9.0" in markdown
    assert markdown.count("⚠ distinta del documento (PROCED-BACK-003 v1.0.0)") == 1
    assert "⚠ distinta del documento" in render([old], "html", DOCUMENT)


def test_html_is_self_contained_with_a_coverage_table() -> None:
    page = render(FEATURES, "html", DOCUMENT)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<link" not in page and "<script" not in page and "src=" not in page
    assert 'id="tabla-cobertura"' in page
    scenarios = feature_scenarios(ROLLBACK)
    labels = page.count('class="label"')
    assert labels >= len(scenarios) and f">{CRITERION}<" in page


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
    page = render([hostile_feature(tmp_path)], "html", DOCUMENT)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Negrita&lt;/b&gt; &amp; co" in page
    assert "⚠ sin la línea «# procedimiento:»" in page


def test_a_criterion_continued_by_y(tmp_path: Path) -> None:
    scenario = read_feature(hostile_feature(tmp_path)).scenarios[0]
    assert scenario.number == "1.1"
    assert [scenario.steps[i].keyword for i in scenario.criterion] == ["Entonces", "Y"]
    assert "<script>" not in render([hostile_feature(tmp_path)], "md", DOCUMENT)


def test_outline_examples_are_shown(tmp_path: Path) -> None:
    path = tmp_path / "outline.feature"
    path.write_text(
        "# language: es\nCaracterística: PROCED-BACK-003 Anexo C — Árbol\n\n"
        "  Esquema del escenario: Caso <caso>\n"
        "    Cuando se evalúa <caso>\n    Entonces la rama es <rama>\n\n"
        "    Ejemplos:\n      | caso | rama |\n      | a<b | x\\|y |\n",
        encoding="utf-8",
    )
    assert read_feature(path).scenarios[0].examples == [[["caso", "rama"], ["a<b", "x|y"]]]
    markdown = render([path], "md", DOCUMENT)
    assert "| a\\<b | x\\|y |" in block(markdown, "### Anexo C: Decision Tree")
    assert "<td>a&lt;b</td>" in render([path], "html", DOCUMENT)


def test_cli_writes_the_output_file(tmp_path: Path, capsys, monkeypatch) -> None:
    output = tmp_path / "procedure.html"
    feature = str(ROLLBACK)
    args = ["procedure", feature, "--document", str(DOCUMENT)]
    assert cli.main([*args, "--format", "html", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == render([ROLLBACK], "html", DOCUMENT)
    monkeypatch.chdir(ROOT)  # the default document: procedures/PROCED-BACK-003.md
    assert cli.main(["procedure", feature]) == 0
    assert capsys.readouterr().out == render(
        [ROLLBACK], "md", Path("procedures/PROCED-BACK-003.md")
    )


def one_line_error(capsys, argv: list[str]) -> str:
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("rollbook: error: ") and "Traceback" not in captured.err
    return captured.err


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
    err = one_line_error(capsys, ["procedure", str(path), "--document", str(DOCUMENT)])
    assert err.startswith(f"rollbook: error: {path}") and expected in err


def test_cli_missing_default_document(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, ["procedure", str(ROLLBACK)])
    assert "procedures/PROCED-BACK-003.md" in err and "pass --document FILE" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the procedure document"),
        ("# Un README\n\nSin secciones numeradas.\n", "no numbered section"),
        (b"\xff\xfe## 1. X\n", "not UTF-8"),
    ],
)
def test_cli_bad_document(tmp_path: Path, capsys, content: str | bytes | None, expected: str):
    path = tmp_path / "doc.md"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    err = one_line_error(capsys, ["procedure", str(ROLLBACK), "--document", str(path)])
    assert str(path) in err and expected in err and "--document" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the plan"),
        ("{not json", "not JSON"),
        ('{"incident": "x"}', 'no "commands" list'),
        ('{"commands": [{"paso": "4.3"}]}', "a command without paso, host and argv"),
    ],
)
def test_cli_bad_plan(tmp_path: Path, capsys, content: str | None, expected: str) -> None:
    plan = tmp_path / "plan.json"
    if content is not None:
        plan.write_text(content)
    argv = ["procedure", str(ROLLBACK), "--document", str(DOCUMENT), "--plan", str(plan)]
    err = one_line_error(capsys, argv)
    assert str(plan) in err and expected in err and "plan.json of a dry run" in err


def test_a_heading_inside_a_code_block_is_not_a_section(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text(
        "---\nid: PROC-X\nversion: 2.0.0\n---\n# PROC-X\n\n## 1. UNO\n\n"
        "```markdown\n## 2. DENTRO DEL BLOQUE\n```\n\n## 16. NUEVA\n",
        encoding="utf-8",
    )
    rows = coverage_rows(render([ROLLBACK], "md", document))
    assert list(rows)[:2] == ["§1", "§16"] and "§2" not in rows
    assert rows["§16"] == [
        "NUEVA",
        "manual",
        "no ejecutado por rollbook: ningún escenario lo cubre",
    ]


def test_each_paso_quotes_the_documents_own_success_criterion() -> None:
    """Every "**Criterio de Exito:**" line of the document, read here without the code under
    test, is quoted under its Paso; without a plan the render says how to get one."""
    text = render([ROLLBACK], "md", DOCUMENT)
    wanted = re.findall(r"^\*\*Criterio de Exito:\*\* (.+)$", DOCUMENT.read_text(), re.M)
    assert len(wanted) == 19
    quoted = re.findall(r"^- \*\*Criterio de Exito \(documento\):\*\* «(.+)»$", text, re.M)
    assert quoted == wanted
    paso = text[text.index("#### Paso 1.2:") : text.index("#### Paso 1.3:")]
    assert "«Tag de version estable identificado»" in paso
    assert "- **Plan:** ninguno — " in text and "--dry-run" in text
