"""The incident record in pytest-html: title, columns, summary; the signature once report.html
is written; the outcome as the last line."""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path
from typing import Any

import pytest

from rollbook.core.errors import UserError
from rollbook.core.journal import read_journal
from rollbook.governance import signing, statements
from rollbook.lifecycle import watch_result
from rollbook.plugin.keys import ENV_KEY, FOLDER_KEY, RUN_KEY
from rollbook.record import closing, report_language
from rollbook.record import report as report_view


def pytest_html_report_title(report: Any) -> None:
    env = report._config.stash.get(ENV_KEY, None) if hasattr(report, "_config") else None
    folder = report._config.stash.get(FOLDER_KEY, None) if hasattr(report, "_config") else None
    if env is not None and folder is not None:
        report.title = f"Rollback {env.name} {folder[0]}"


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells[:] = [report_language.header(cell) for cell in cells]
    cells.insert(1, "<th>Paso</th>")
    cells.insert(2, "<th>Etapa (Anexo B)</th>")


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    paso = str(getattr(report, "rollbook_paso", ""))
    cells.insert(1, f"<td>{escape(paso)}</td>")
    cells.insert(2, f"<td>{escape(getattr(report, 'rollbook_budget', ''))}</td>")


NO_OUTPUT = "No log output captured."  # pytest-html's words for a Paso that printed nothing


def pytest_html_results_table_html(report: pytest.TestReport, data: list[str]) -> None:
    """A skipped Paso says why in a sentence, not as pytest's (file, line, reason) tuple; one
    that printed nothing says so in Spanish (its commands are in its evidence)."""
    if report.skipped and isinstance(report.longrepr, tuple):
        data[:] = [escape(str(report.longrepr[2]).removeprefix("Skipped: ")) + "\n"]
    elif data == [NO_OUTPUT]:
        data[:] = ["Este Paso no escribió nada en la consola (sus comandos: en la evidencia)."]


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    current = session.config.stash.get(RUN_KEY, None)
    if current is not None:
        events = list(read_journal(current.incident.journal.path))
        prefix.append(report_view.summary_html(current, events))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    current = config.stash.get(RUN_KEY, None)
    if current is None or current.incident.result is None:
        return
    terminalreporter.write_sep("=", f"rollbook {current.incident.id}", bold=True)
    for line in current.incident.result.lines:
        terminalreporter.write_line(line)
    folder = current.incident.folder
    report_language.localize(folder / "report.html")  # before it is hashed and signed
    restrict(folder)  # report.html is written by pytest-html with the default umask
    _sign(current, terminalreporter)
    if current.incident.options.watch and current.incident.options.incident:
        _append_watch(current, terminalreporter)


def _sign(current: Any, terminalreporter: Any) -> None:
    signer = current.site.env.signing
    if signer is None:
        terminalreporter.write_line(
            f"sin firma: el ambiente {current.site.env.name} no tiene clave de firma (signing)"
        )
        return
    try:  # after pytest-html has written report.html: the exact bytes are hashed and signed
        own = current.incident.options.signing_key
        key, identity = statements.record_key(current.site.env, own) or ("", "")
        signature = signing.sign_folder(current.incident.folder, key, identity, signer.namespace)
    except UserError as exc:
        terminalreporter.write_line(f"NO FIRMADO: {exc}", red=True)
        return
    restrict(current.incident.folder)
    terminalreporter.write_line(f"firmado: {signature} (por {identity})")


def _append_watch(current: Any, terminalreporter: Any) -> None:
    """§8.2's watch: its verdict into the rollback's record, signed again."""
    folder = current.incident.options.report_dir / current.incident.options.incident
    try:
        state, stale = watch_result.append(current, folder)
    except (UserError, OSError) as exc:
        terminalreporter.write_line(f"§8.2 NO AÑADIDO a {folder}: {exc}", red=True)
        return
    restrict(folder)
    terminalreporter.write_line(f"§8.2 añadido a {folder}: {state}; firmado de nuevo")
    _refresh_copy(current, folder, terminalreporter)
    if stale:
        terminalreporter.write_line(
            f"WARNING: las {stale} firmas de conformidad (sign-off) anteriores son del registro "
            "previo: fírmelas de nuevo (rollbook sign-off)",
            yellow=True,
        )


def _refresh_copy(current: Any, folder: Path, terminalreporter: Any) -> None:
    """The rollback's copy in the environment's `incidents` folder, kept in step with the record
    §8.2's verdict was just added to (only where the rollback made one)."""
    target = Path(current.site.env.incidents or "") / closing.shared_name(folder.name)
    if not current.site.env.incidents or not target.is_file():
        return
    for markdown in folder.glob("ROLLBACK-*.md"):
        try:
            shutil.copy(markdown, target)
        except OSError as exc:
            terminalreporter.write_line(f"copia {target} NO ACTUALIZADA: {exc}", red=True)
            return
        terminalreporter.write_line(f"copia actualizada: {target}")


def restrict(folder: Path) -> None:
    """Report folders hold infrastructure details: 0700, files 0600."""
    folder.chmod(0o700)
    for path in folder.rglob("*"):
        try:
            path.chmod(0o700 if path.is_dir() else 0o600)
        except PermissionError:  # a sign-off another user added: theirs to keep private
            continue


def pytest_unconfigure(config: pytest.Config) -> None:
    """The outcome is the last line the operator sees."""
    reserved = config.stash.get(FOLDER_KEY, None)
    current = config.stash.get(RUN_KEY, None)
    if reserved is not None and current is None:  # no Paso ran: drop the empty incident folder
        shutil.rmtree(reserved[1], ignore_errors=True)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if current is None or current.incident.result is None or reporter is None:
        return
    ok = current.incident.result.exit_code == 0
    reporter.write_sep("=", current.incident.result.name, green=ok, red=not ok, bold=True)
