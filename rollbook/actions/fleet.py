"""A Paso on every host of a role: at once (at most `parallel_hosts`), or one host at a time.

Each host's result (ok or its error, and its seconds) is journaled as a `host_result` event, so
the report and the incident markdown show every host; one host's failure fails the Paso after
the hosts already started have finished (hosts not yet started are not started: reported so).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from rollbook.core.errors import StepFailed, UserError
from rollbook.core.inventory import label

if TYPE_CHECKING:
    from rollbook.core.host import Host
    from rollbook.core.incident import Incident
    from rollbook.core.site import Site

T = TypeVar("T")


def each_host(
    incident: Incident,
    site: Site,
    role: str,
    action: Callable[[Host], T],
    *,
    one_at_a_time: bool = False,
    among: list[str] | None = None,
) -> dict[str, T]:
    """action(host) on every host of `role` (only those `among`, when given); {spec: result}.
    Raises when any host failed."""
    specs = [spec for spec in site.hosts(role) if among is None or spec in among]
    failed = threading.Event()
    results: dict[str, T] = {}
    errors: dict[str, Exception] = {}

    def on(spec: str) -> None:
        if failed.is_set():
            errors[spec] = StepFailed(f"{label(spec)}: not started, another host failed first")
            incident.journal.write(
                "host_result",
                paso=incident.paso,
                role=role,
                host=spec,
                ok=False,
                seconds=0.0,
                error=str(errors[spec]),
            )
            return
        started = time.monotonic()
        try:
            results[spec] = action(site.host(spec))
        except (StepFailed, UserError) as exc:
            errors[spec] = exc
            failed.set()
        seconds = round(time.monotonic() - started, 3)
        error = str(errors[spec]) if spec in errors else None
        incident.journal.write(
            "host_result",
            paso=incident.paso,
            role=role,
            host=spec,
            ok=error is None,
            seconds=seconds,
            error=error,
        )

    workers = 1 if one_at_a_time else min(site.env.parallel_hosts, len(specs))
    if workers == 1:
        for spec in specs:
            on(spec)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(on, specs))
    if errors:
        raise _combined(role, specs, errors)
    return {spec: results[spec] for spec in specs}


def _combined(role: str, specs: list[str], errors: dict[str, Exception]) -> Exception:
    first = next(e for s in specs if (e := errors.get(s)) is not None)
    if len(specs) == 1 or (isinstance(first, UserError) and len(errors) == 1):
        return first
    where = ", ".join(label(s) for s in specs if s in errors)
    details = " | ".join(str(errors[s]) for s in specs if s in errors)
    return StepFailed(f"{len(errors)} of {len(specs)} {role} hosts failed ({where}): {details}")
