"""Fixtures shared by the integration and e2e tests: the real sandbox."""

from collections.abc import Iterator

import pytest

from rollbook import sandbox
from tests.e2e import compatibility, reliability


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
    docs/COMPATIBILITY.md from the stacks rolled back."""
    reliability.write()
    compatibility.write()
