"""The pytest plugin: options, .feature collection, the Run fixture, stage gating and the outcome.

The only module of the engine that imports pytest.
"""

from __future__ import annotations

import re
import shutil
import types
import unicodedata
from collections import Counter
from collections.abc import Generator, Iterable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import scenario
from pytest_bdd.feature import get_feature
from pytest_bdd.gherkin_parser import get_gherkin_document
from pytest_bdd.scenario import scenario_wrapper_template_registry
from pytest_html import extras as html_extras
from pytest_metadata.plugin import metadata_key

from rollbook import lock, outcome, resume, signing
from rollbook import report as report_view
from rollbook.config import Environment, available_environments, load_environment
from rollbook.errors import UserError
from rollbook.executor import Mode
from rollbook.journal import read_journal
from rollbook.run import SEVERITIES, Run, RunOptions, default_operator, new_incident_dir
from rollbook.selection import (
    INDEPENDENT,
    NO_ENVIRONMENT,
    VALIDATES_RELEASE,
    Scenario,
    order_problem,
    run_mode,
)

RUN_KEY = pytest.StashKey[Run]()
FOLDER_KEY = pytest.StashKey[tuple[str, Path]]()
RESUMED_KEY = pytest.StashKey[set[str]]()
ENV_KEY = pytest.StashKey[Environment]()
FAILED_KEY = pytest.StashKey[str]()
PASO = re.compile(r"Paso (\d+\.\d+)")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollbook", "rollbook: the rollback procedure PROCED-BACK-003")
    group.addoption("--env", help="environment to act on: a file environments/NAME.yaml")
    group.addoption("--target-tag", help="release to roll back to (default: last stable tag)")
    group.addoption("--backup", help="backup to restore (default: newest before the deploy)")
    group.addoption("--reason", help="symptoms observed (Paso 1.1)")
    group.addoption("--severity", choices=SEVERITIES, help="incident severity (Paso 1.1)")
    group.addoption("--impact", help="users / functions affected (Paso 1.1)")
    group.addoption("--approved-by", help="Tech Lead or Incident Manager who approved")
    group.addoption("--operator", help="who executes (default: git user.name, else $USER)")
    group.addoption("--dry-run", action="store_true", help="plan: run no mutating command")
    group.addoption("--report-dir", default="reports", help="folder for incident reports")
    group.addoption(
        "--no-auto-recover", action="store_true", help="do not restore the pre-rollback state (§9)"
    )
    group.addoption("--incident", help="incident id whose journal §9 restores from")
    group.addoption(
        "--users-affected", type=float, help="percent of users affected (Anexo C decision tree)"
    )
    group.addoption("--break-lock", action="store_true", help="take over a stale rollback lock")
    group.addoption(
        "--resume", action="store_true", help="with --incident: continue that rollback forward"
    )
    group.addoption(
        "--confirm-production", metavar="ENV", help="required where the YAML says confirm: true"
    )
    group.addoption(
        "--record-release", action="store_true",
        help="validation.feature: when every check passes, record the release in the ledger",
    )  # fmt: skip
    group.addoption(
        "--force-target", action="store_true",
        help="let --target-tag name a release the ledger marks failed or rolled back from",
    )  # fmt: skip


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads --html
def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("--env")
    if name is None:
        return
    try:
        env = config.stash[ENV_KEY] = load_environment(name)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("collectonly"):
        return
    report_dir = Path(config.getoption("--report-dir")).resolve()
    try:
        incident, folder = new_incident_dir(report_dir, env.name, datetime.now(UTC))
    except OSError as exc:
        raise pytest.UsageError(
            f"--report-dir {report_dir}: cannot create the incident folder ({exc.strerror}): "
            "give a writable folder"
        ) from None
    config.stash[FOLDER_KEY] = (incident, folder)
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(folder / "report.html")
        config.option.self_contained_html = True


# --- collection of .feature files -----------------------------------------------------------


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".feature":
        return FeatureFile.from_parent(parent, path=file_path)
    return None


def node_name(scenario_name: str) -> str:
    """'Paso 4.3 — Restaurar base de datos' → 'test_paso_4_3_restaurar_base_de_datos'."""
    ascii_name = unicodedata.normalize("NFKD", scenario_name).encode("ascii", "ignore").decode()
    return "test_" + re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def duplicate_scenarios(path: Path) -> list[str]:
    document = get_gherkin_document(str(path))
    names: list[str] = []
    for child in document.feature.children if document.feature else []:
        children = child.rule.children if child.rule else [child]
        names += [c.scenario.name for c in children if c.scenario]
    return [name for name, count in Counter(names).items() if count > 1]


class FeatureFile(pytest.Module):
    """A .feature file collected as a module of pytest-bdd scenarios, one test per Escenario."""

    def _getobj(self) -> types.ModuleType:
        duplicates = duplicate_scenarios(self.path)
        if duplicates:
            raise self.CollectError(
                f"{self.path}: two scenarios named {duplicates[0]!r}: pytest-bdd would merge them "
                "into one test; give each Escenario its own name"
            )
        base = str(self.path.parent)
        feature = get_feature(base, self.path.name)
        module = types.ModuleType(self.path.stem)
        module.__file__ = str(self.path)
        for name in feature.scenarios:
            function = scenario(self.path.name, name, features_base_dir=base)(lambda: None)
            module.__dict__[node_name(name)] = function
        return module

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        items = list(super().collect())
        for item in items:
            template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
            if template is not None:
                line = template.line_number
                item.reportinfo = lambda line=line, item=item: (self.path, line - 1, item.name)
        self.scenarios = [scenario_of(item) for item in items if isinstance(item, pytest.Item)]
        return items


def feature_of(item: pytest.Item) -> FeatureFile | None:
    return item.getparent(FeatureFile)


def paso_of(item: pytest.Item) -> str:
    """'4.3' for 'Paso 4.3 — …'; the whole scenario name for a checklist item."""
    template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
    name = template.name if template else item.name
    match = PASO.search(name)
    return match.group(1) if match else name


def scenario_of(item: pytest.Item) -> Scenario:
    template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
    tags = frozenset(mark.name for mark in item.iter_markers())
    return Scenario(paso_of(item), template.name if template else item.name, tags)


# --- the run ------------------------------------------------------------------------------


def _options(config: pytest.Config, env: Environment) -> RunOptions:
    get = config.getoption
    return RunOptions(
        env_name=env.name,
        report_dir=Path(get("--report-dir")).resolve(),
        operator=get("--operator") or default_operator(),
        target_tag=get("--target-tag"),
        backup=get("--backup"),
        reason=get("--reason"),
        severity=get("--severity"),
        impact=get("--impact"),
        approved_by=get("--approved-by"),
        dry_run=get("--dry-run"),
        auto_recover=not get("--no-auto-recover"),
        incident=get("--incident"),
        users_affected=get("--users-affected"),
        confirm=get("--confirm-production"),
        record_release=get("--record-release"),
        force_target=get("--force-target"),
    )


def _check_order(items: list[pytest.Item]) -> None:
    features: dict[FeatureFile, list[Scenario]] = {}
    for item in items:
        feature = feature_of(item)
        if feature is not None:
            features.setdefault(feature, []).append(scenario_of(item))
    for feature, selected in features.items():
        problem = order_problem(feature.path.name, feature.scenarios, selected)
        if problem:
            raise pytest.UsageError(problem)


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    _check_order(items)
    needs_run = [i for i in items if feature_of(i) and NO_ENVIRONMENT not in scenario_of(i).tags]
    if config.getoption("collectonly") or not needs_run:
        return
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        names = ", ".join(available_environments())
        raise pytest.UsageError(f"--env is required to run the procedure: choose one of {names}")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def progress(text: str) -> None:
        """Shown as it happens, even while pytest captures the output of the running Paso."""
        if reporter is None or capture is None:
            print(text)
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(text)

    selected = [scenario_of(i) for i in needs_run]
    mode = run_mode(selected, config.getoption("--dry-run"))
    try:
        current = Run(_options(config, env), env, mode, progress, config.stash[FOLDER_KEY])
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    current.checklist = all(INDEPENDENT in s.tags for s in selected)
    chosen = {s.name for s in selected}
    every = [s for f in {feature_of(i) for i in needs_run} if f for s in f.scenarios]
    if current.options.record_release and (
        len(chosen) != len(every) or not all(VALIDATES_RELEASE in s.tags for s in every)
    ):
        current.journal.close()
        raise pytest.UsageError(
            "--record-release records what a whole validation run proved: run all of "
            "features/validation.feature with it, without -k/-m (a rollback records the ledger "
            "by itself)"
        )
    if config.getoption("--resume"):  # checked before the lock: a refusal leaves it as it is
        try:
            config.stash[RESUMED_KEY] = resume.load(current)
        except UserError as exc:
            current.journal.close()
            raise pytest.UsageError(str(exc)) from None
    if mode is Mode.EXECUTE and not current.checklist:
        try:
            lock.acquire(current, break_lock=config.getoption("--break-lock"))
        except UserError as exc:  # nothing ran: the incident folder is dropped at unconfigure
            current.journal.close()
            raise pytest.UsageError(str(exc)) from None
    config.stash[RUN_KEY] = current
    current.journal.write(
        "selection",
        selected=[s.name for s in selected],
        deselected=[s.name for s in every if s.name not in chosen],
    )


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Run:
    """The incident being handled (created at collection, one per pytest session)."""
    current = request.config.stash.get(RUN_KEY, None)
    if current is None:
        pytest.fail("the procedure needs --env=NAME", pytrace=False)
    return current


# --- stage gating and the journal of Pasos ------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    feature = feature_of(item)
    if feature is None:
        return
    failed = feature.stash.get(FAILED_KEY, None)
    if failed is not None:
        pytest.skip(f"no ejecutado: falló Paso {failed}")
    if paso_of(item) in item.config.stash.get(RESUMED_KEY, set()):
        pytest.skip(f"ya ejecutado en el incidente {item.config.getoption('--incident')}")
    if item.config.getoption("--dry-run") and {"etapa6", "etapa7"} & scenario_of(item).tags:
        pytest.skip("no ejecutado: dry-run (esta Etapa valida y documenta un rollback real)")
    current = item.config.stash.get(RUN_KEY, None)
    if current is not None:
        current.executor.paso = paso_of(item)
        current.journal.write("paso_started", paso=paso_of(item), name=item.name)
        template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
        current.say(f"▶ {template.name if template else item.name}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    feature = feature_of(item)
    if feature is None:
        return report
    paso = paso_of(item)
    if call.excinfo is not None and call.excinfo.errisinstance((AssertionError, UserError)):
        path, line, _ = item.reportinfo()
        label = f"Paso {paso}" if re.fullmatch(r"\d+\.\d+", paso) else paso
        report.longrepr = f"{path}:{line + 1}: {label}: {call.excinfo.value}"
    if report.failed and INDEPENDENT not in scenario_of(item).tags:
        feature.stash.setdefault(FAILED_KEY, paso)
    report.rollbook_paso = paso
    current = item.config.stash.get(RUN_KEY, None)
    if current is not None:
        report.rollbook_budget = report_view.paso_budget(current, paso, report.duration)
    if current is not None and report.when == "call":
        evidence = report_view.paso_evidence_html(current.journal.events(), paso)
        if evidence:
            report.extras = [*getattr(report, "extras", []), html_extras.html(evidence)]
    if current is not None and (report.when == "call" or report.outcome != "passed"):
        reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
        detail = str(report.longrepr) if report.failed else reason
        current.journal.write(
            "paso_finished",
            paso=paso,
            name=item.name,
            phase=report.when,
            status=report.outcome,
            duration=round(report.duration, 3),
            detail=detail,
        )
    return report


# --- the end of the run --------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    current = session.config.stash.get(RUN_KEY, None)
    if current is None:
        return
    result = outcome.finish(current)
    for error in current.executor.close_hosts():  # this run's pgpass files
        current.say(f"WARNING: could not remove this run's private files: {error}")
    if result.exit_code != 0 and session.exitstatus == 0:
        session.exitstatus = result.exit_code
    events = current.journal.events()
    table = session.config.stash.get(metadata_key, None)
    if table is not None:  # the environment table of report.html is the incident record
        table.clear()
        table.update(report_view.environment_table(current, events))
    log = current.folder / "rollback.log"
    log.write_text(report_view.human_log(events), encoding="utf-8")
    log.chmod(0o600)
    if current.env.logs.copy_to:
        shutil.copy(log, Path(current.env.logs.copy_to) / f"rollback-{current.incident_id}.log")
    current.journal.close()


def pytest_html_report_title(report: Any) -> None:
    env = report._config.stash.get(ENV_KEY, None) if hasattr(report, "_config") else None
    folder = report._config.stash.get(FOLDER_KEY, None) if hasattr(report, "_config") else None
    if env is not None and folder is not None:
        report.title = f"Rollback {env.name} {folder[0]}"


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, "<th>Paso</th>")
    cells.insert(2, "<th>Etapa (Anexo B)</th>")


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    paso = str(getattr(report, "rollbook_paso", ""))
    cells.insert(1, f"<td>{escape(paso)}</td>")
    cells.insert(2, f"<td>{escape(getattr(report, 'rollbook_budget', ''))}</td>")


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    current = session.config.stash.get(RUN_KEY, None)
    if current is not None:
        prefix.append(report_view.summary_html(current, list(read_journal(current.journal.path))))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    current = config.stash.get(RUN_KEY, None)
    if current is None or current.result is None:
        return
    terminalreporter.write_sep("=", f"rollbook {current.incident_id}", bold=True)
    for line in current.result.lines:
        terminalreporter.write_line(line)
    restrict(current.folder)  # report.html is written by pytest-html with the default umask
    signer = current.env.signing
    if signer is None:
        terminalreporter.write_line(
            f"not signed: environment {current.env.name} has no signing key"
        )
        return
    try:  # after pytest-html has written report.html: the exact bytes are hashed and signed
        signature = signing.sign_folder(
            current.folder, signer.key, signer.identity, signer.namespace
        )
    except UserError as exc:
        terminalreporter.write_line(f"NOT SIGNED: {exc}", red=True)
        return
    restrict(current.folder)
    terminalreporter.write_line(f"signed: {signature} (by {signer.identity})")


def restrict(folder: Path) -> None:
    """Report folders hold infrastructure details: 0700, files 0600."""
    folder.chmod(0o700)
    for path in folder.iterdir():
        path.chmod(0o600)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The outcome is the last line the operator sees."""
    reserved = config.stash.get(FOLDER_KEY, None)
    current = config.stash.get(RUN_KEY, None)
    if reserved is not None and current is None:  # no Paso ran: drop the empty incident folder
        shutil.rmtree(reserved[1], ignore_errors=True)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if current is None or current.result is None or reporter is None:
        return
    ok = current.result.exit_code == 0
    reporter.write_sep("=", current.result.name, green=ok, red=not ok, bold=True)
