"""`@verifies(...)`: a `then` that checks what a mutating `when` did on the hosts.

A dry-run plans the mutating commands instead of running them, so there is nothing on the hosts to
check: the Paso is reported skipped, "no verificado (plan)", never passed, and plan.md lists the
criteria left unchecked. Read-only `then`s keep plain `@then`: they check real state in every mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from pytest_bdd import then

from rollbook.core.errors import NotConfigured
from rollbook.core.executor import Mode
from rollbook.core.run import Run
from rollbook.governance import notify
from rollbook.record.plan import NOT_VERIFIED

T = TypeVar("T")


def after(run: Run, observe: Callable[[], T]) -> T | None:
    """What a mutating `when` left, observed for its `@verifies`; None in a dry-run, where the
    `when` only planned its commands and the `@verifies` reports "no verificado (plan)"."""
    return None if run.site.planning else observe()


def verifies(text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(check)  # pytest reads the fixtures from check's signature
        def step(**fixtures: Any) -> None:
            run: Run = fixtures["run"]
            if run.site.planning:
                pytest.skip(f"{NOT_VERIFIED}: {text}")
            check(**fixtures)

        return then(text, stacklevel=2)(step)  # registered in the module that uses it

    return decorate


def delivery(run: Run, kind: str) -> None:
    """Pasos 1.4 / 7.2: the criterion is delivery to every channel. Not delivered: the Paso is
    reported NO ENTREGADO (skipped, never passed), escalated through the channels that work,
    and the rollback goes on; a dry-run or a read-only run sends nothing, so it verifies nothing."""
    if not run.site.env.notify:
        raise NotConfigured("notify")
    if run.site.planning:
        pytest.skip(f"{NOT_VERIFIED}: {kind} notice not sent in a dry-run")
    if run.site.mode is not Mode.EXECUTE:  # a read-only run sends nothing either
        pytest.skip(f"no verificado: {kind} notice not sent in a {run.site.mode.value} run")
    missing = notify.undelivered(run, kind)
    if missing:
        pytest.skip(notify.escalate_undelivered(run, kind, missing))
    reached = set(notify.delivered(run, kind))
    wanted = {target.url_env for target in run.site.env.notify}
    assert wanted <= reached, f"{kind} notice delivered to {sorted(reached)} only"
