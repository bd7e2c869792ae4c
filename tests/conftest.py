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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """docs/RELIABILITY.md from the fault matrix, bad-input catalog and crash points that ran;
    docs/COMPATIBILITY.md from the stacks rolled back."""
    reliability.write()
    compatibility.write()
