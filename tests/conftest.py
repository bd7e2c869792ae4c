"""Fixtures shared by the integration and e2e tests: the real sandbox — an instance of its own
for each pytest-xdist worker (rollbook.sandbox.instance), chosen before any test module reads an
environment file."""

import json
import os
from collections.abc import Iterator

import pytest

from rollbook import sandbox
from rollbook.sandbox import instance
from tests.durations import DURATIONS
from tests.e2e import compatibility, reliability


def _instance() -> int:
    """Under pytest-xdist, worker gwK's: the K-th of this checkout's (its environment holds the
    controller's choice, never its own); else $ROLLBOOK_SANDBOX_INSTANCE when given; else this
    checkout's first."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        return instance.choose(int(worker.removeprefix("gw") or 0))
    if os.environ.get(instance.VARIABLE):
        return instance.current()
    return instance.choose()


instance.activate(_instance())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first, by the seconds a full run measured (tests/durations.json):
    `make test` gives each module to one worker (--dist loadscope), and a long module started
    last would run alone while the other workers idle."""
    seconds = json.loads(DURATIONS.read_text())
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::")[0], 0))


@pytest.fixture(scope="session")
def sandbox_up() -> Iterator[None]:
    """The sandbox, up for the session; taken down afterwards unless it was running before."""
    was_up = all(ok for _, _, ok in sandbox.status())
    sandbox.up()
    yield
    if not was_up:
        sandbox.down()


@pytest.fixture
def sandbox_reset(sandbox_up: None) -> None:
    """The sandbox in its start state: defective release deployed, nightly backup in place."""
    sandbox.reset()


SHOWN = pytest.StashKey[dict[str, list[str]]]()


def show(config: pytest.Config, title: str, lines: list[str]) -> None:
    """Lines a passing test puts in the run's output (pytest keeps a passing test's own output to
    itself): printed under `title` at the end of the run."""
    config.stash.setdefault(SHOWN, {})[title] = lines


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for title, lines in config.stash.get(SHOWN, {}).items():
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """docs/RELIABILITY.md from the fault matrix, bad-input catalog and crash points that ran;
    docs/COMPATIBILITY.md from the stacks rolled back — by the controller, from every worker's
    results, under xdist."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # an xdist worker: its results go to the controller
        shown = session.config.stash.get(SHOWN, {})
        output["results"] = json.dumps([reliability.rows(), compatibility.rows(), shown])
        return
    reliability.write()
    compatibility.write()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """An xdist worker finished: its results, for the controller's documents."""
    results = getattr(node, "workeroutput", {}).get("results", "[{}, [], {}]")
    found, stacks, shown = json.loads(results)
    reliability.add(found)
    compatibility.add(stacks)
    config = getattr(node, "config", None)
    if config is not None:  # the lines its passing tests showed, for the controller's summary
        for title, lines in shown.items():
            show(config, title, lines)
