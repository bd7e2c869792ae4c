"""The run's lifecycle in pytest: the Run made at collection (lock, resume), the `run` fixture,
stage gating, the journal of Pasos, and the outcome at the end."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Generator
from datetime import date
from pathlib import Path
from typing import NoReturn

import pytest
from pytest_html import extras as html_extras
from pytest_html.basereport import BaseReport
from pytest_metadata.plugin import metadata_key

from rollbook.core.config import Environment, available_environments
from rollbook.core.errors import NotConfigured, UserError
from rollbook.core.executor import Mode
from rollbook.core.run import Run, RunOptions, default_operator, run_options
from rollbook.governance import people, provenance, statements
from rollbook.lifecycle import (
    closing_actions,
    lock,
    outage_probe,
    outcome,
    recovery,
    resume,
    watch_result,
)
from rollbook.lifecycle.selection import (
    INDEPENDENT,
    NO_ENVIRONMENT,
    RECOVERY,
    VALIDATES_RELEASE,
    run_mode,
)
from rollbook.plugin.collection import (
    check_order,
    feature_of,
    paso_of,
    scenario_name,
    scenario_of,
)
from rollbook.plugin.keys import ENV_KEY, FAILED_KEY, FOLDER_KEY, RESUMED_KEY, RUN_KEY
from rollbook.record import closing, procedure_standing
from rollbook.record import report as report_view


def _operator(config: pytest.Config, env: Environment) -> str:
    """--operator, or the person whose --signing-key it is (then --operator must agree), or the
    git user."""
    named, key = config.getoption("--operator"), config.getoption("--signing-key")
    if key is None:
        return named or default_operator()
    person = statements.signer(env, key)
    if named and people.find(env, named) != person:
        raise UserError(f"--operator {named!r} is not {person.name}, whose --signing-key it is")
    return person.name


def _options(config: pytest.Config, env: Environment) -> RunOptions:
    return run_options(config.getoption, env.name, _operator(config, env))


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    check_order(items)
    needs_run = [i for i in items if feature_of(i) and NO_ENVIRONMENT not in scenario_of(i).tags]
    if config.getoption("collectonly") or not needs_run:
        return
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        names = ", ".join(available_environments())
        _refuse(config, None, f"--env is required to run the procedure: choose one of {names}")
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
        _refuse(config, None, str(exc))
    current.incident.checklist = all(INDEPENDENT in s.tags for s in selected)
    chosen = {s.name for s in selected}
    every = [s for f in {feature_of(i) for i in needs_run} if f for s in f.scenarios]
    if current.incident.options.record_release and (
        len(chosen) != len(every) or not all(VALIDATES_RELEASE in s.tags for s in every)
    ):
        _refuse(
            config,
            current,
            "--record-release records what a whole validation run proved: run all of "
            "features/validation.feature with it, without -k/-m (a rollback records the ledger "
            "by itself)",
        )
    opts = current.incident.options
    if opts.watch and opts.incident and len(chosen) != len(every):
        _refuse(
            config,
            current,
            "--watch --incident appends §8.2's verdict to a record: run all of "
            "features/validation.feature with it, without -k/-m",
        )
    if opts.watch and not all(VALIDATES_RELEASE in s.tags for s in every):
        _refuse(
            config,
            current,
            "--watch is §8.2's extended watch after a rollback: run it with "
            "features/validation.feature (and --incident ID to append it to that record)",
        )
    if opts.watch and opts.incident:  # before a 30-minute window
        try:
            watch_result.check_appendable(current, opts.report_dir / opts.incident)
        except UserError as exc:
            _refuse(config, current, str(exc))
    if config.getoption("--resume"):  # checked before the lock: a refusal leaves it as it is
        try:
            config.stash[RESUMED_KEY] = resume.load(current)
        except UserError as exc:
            _refuse(config, current, str(exc))
    features = sorted({f.path for f in (feature_of(i) for i in needs_run) if f})
    refused = _procedure_standing(current, features)  # before the lock: nothing changed
    if refused:
        _refuse(config, current, refused)
    recovers = None
    if any(RECOVERY in s.tags for s in selected):  # §9 of --incident, or of what it recovered
        try:
            recovers = recovery.original_incident(current)
        except UserError as exc:
            _refuse(config, current, str(exc))
    if mode is Mode.EXECUTE and not current.incident.checklist:
        try:
            lock.acquire(current, break_lock=config.getoption("--break-lock"), recovers=recovers)
        except UserError as exc:
            _refuse(config, current, str(exc))
        url = outage_probe.probe_url(env)
        probe = outage_probe.OutageProbe(current.incident.journal, url) if url else None
        current.incident.probe = probe.start() if probe else None
    config.stash[RUN_KEY] = current
    current.incident.journal.write(
        "selection",
        selected=[s.name for s in selected],
        deselected=[s.name for s in every if s.name not in chosen],
    )
    current.incident.note("provenance", **provenance.collect(features, env))


def _procedure_standing(current: Run, features: list[Path]) -> str | None:
    """The written procedure's standing recorded, its problems said; why the run is refused
    when the environment requires §14 signed and it is not (None: it may go on)."""
    fact = procedure_standing.of_features(features, date.today())
    if fact is None:
        return None
    current.incident.note("procedure_standing", **fact)
    for problem in fact["problems"]:
        current.incident.say(f"WARNING: {fact['id']} ({fact['document']}): {problem}")
    if current.site.env.procedure_approvals == "required" and fact["unsigned"]:
        return (
            f"{fact['document']}: §14 has rows without a signature or a date "
            f"({', '.join(fact['unsigned'])}) and environment {current.site.env.name} requires "
            "the procedure signed (procedure_approvals: required): sign §14, or set "
            "procedure_approvals: warn"
        )
    return None


def _refuse(config: pytest.Config, current: Run | None, message: str) -> NoReturn:
    """Refuse the run before any Paso: nothing ran, so there is no record — the incident folder
    is dropped at unconfigure and pytest-html, which would print a link to it, is let go."""
    if current is not None:
        current.incident.journal.close()
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport):
            config.pluginmanager.unregister(plugin)
    raise pytest.UsageError(message)


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
        current.incident.journal.write("paso_started", paso=paso_of(item), name=item.name)
        current.incident.say(f"▶ {scenario_name(item)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """Setup, call and teardown of a Paso: the commands they run are journaled under it."""
    current = item.config.stash.get(RUN_KEY, None)
    if current is None or feature_of(item) is None:
        return (yield)
    with current.site.acting_for(paso_of(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    """A check with nothing configured to look at: the Paso is skipped "no configurado", with a
    visible warning — never passed (where approval is required, Paso 1.1 refused it before)."""
    try:
        return (yield)
    except NotConfigured as exc:
        current = item.config.stash.get(RUN_KEY, None)
        if current is not None:
            current.incident.not_configured(str(exc))
        pytest.skip(f"no configurado: {exc}")


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
        evidence = report_view.paso_evidence_html(current.incident.journal.events(), paso)
        if evidence:
            report.extras = [*getattr(report, "extras", []), html_extras.html(evidence)]
    if current is not None and (report.when == "call" or report.outcome != "passed"):
        skipped = report.skipped and isinstance(report.longrepr, tuple)
        reason = str(report.longrepr[2]).removeprefix("Skipped: ") if skipped else ""
        detail = str(report.longrepr) if report.failed else reason
        current.incident.journal.write(
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


def _copy_out(current: Run, source: Path, folder: str | None, name: str) -> None:
    """A closing copy where the team's procedure keeps it (rollback.log: logs.copy_to; the
    markdown: incidents), the folder made when missing; said when it failed."""
    if not folder:
        return

    def copy() -> object:
        Path(folder).mkdir(parents=True, exist_ok=True)
        target = Path(folder) / name  # named by the incident: its own only
        shutil.copy(source, target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if digest != hashlib.sha256(source.read_bytes()).hexdigest():
            raise OSError(f"{target} differs from {source} after the copy")
        return current.incident.journal.write(
            "record_copied", file=source.name, path=str(target), sha256=digest
        )

    if closing_actions.isolated(current, f"copia de {source.name} a {folder}", copy) is None:
        current.incident.say(
            f"{source.name} queda en {current.incident.folder}: cópielo a {folder} a mano"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    current = session.config.stash.get(RUN_KEY, None)
    if current is None:
        return
    result = outcome.finish(current)
    for error in current.site.close_hosts():  # this run's pgpass files
        current.incident.say(f"WARNING: could not remove this run's private files: {error}")
    if result.exit_code != 0 and session.exitstatus == 0:
        session.exitstatus = result.exit_code
    events = current.incident.journal.events()
    table = session.config.stash.get(metadata_key, None)
    if table is not None:  # the environment table of report.html is the incident record
        table.clear()
        table.update(report_view.environment_table(current, events))
    log = current.incident.folder / "rollback.log"
    log.write_text(report_view.human_log(events), encoding="utf-8")
    log.chmod(0o600)
    _copy_out(current, log, current.site.env.logs.copy_to, f"rollback-{current.incident.id}.log")
    markdown = closing.report_path(current)
    if markdown.is_file() and current.site.mode is Mode.EXECUTE:  # an incident's, not a plan's
        _copy_out(
            current, markdown, current.site.env.incidents, closing.shared_name(current.incident.id)
        )
    current.incident.journal.close()
