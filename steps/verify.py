"""`@verifies(...)`: a `then` that checks what a mutating `when` did on the hosts.

A dry-run plans the mutating commands instead of running them, so there is nothing on the hosts to
check: the Paso is reported skipped, "no verificado (plan)", never passed, and plan.md lists the
criteria left unchecked. Read-only `then`s keep plain `@then`: they check real state in every mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from pytest_bdd import then

from rollbook.core.run import Run
from rollbook.record.plan import NOT_VERIFIED


def verifies(text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(check)  # pytest reads the fixtures from check's signature
        def step(**fixtures: Any) -> None:
            run: Run = fixtures["run"]
            if run.planning:
                pytest.skip(f"{NOT_VERIFIED}: {text}")
            check(**fixtures)

        return then(text, stacklevel=2)(step)  # registered in the module that uses it

    return decorate
