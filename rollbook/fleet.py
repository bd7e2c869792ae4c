"""A Paso on every host of a role: at once (at most `parallel_hosts`), or one host at a time.

Each host's result (ok or its error, and its seconds) is journaled as a `host_result` event, so
the report and the incident markdown show every host; one host's failure fails the Paso after
the hosts already started have finished (hosts not yet started are not started: reported so).
Ansible groups (`ansible://GROUP?ansible_inventory=FILE`) become one spec per host of the group.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, urlparse

from testinfra.utils.ansible_runner import AnsibleRunner

from rollbook.errors import StepFailed, UserError

if TYPE_CHECKING:
    from rollbook.run import Run

T = TypeVar("T")


def expand(role: str, specs: list[str]) -> list[str]:
    """The role's host specs, each Ansible group replaced by its hosts (inventory order)."""
    hosts: list[str] = []
    for spec in specs:
        hosts += _ansible_hosts(role, spec) if spec.startswith("ansible://") else [spec]
    return hosts


def _ansible_hosts(role: str, spec: str) -> list[str]:
    url = urlparse(spec)
    inventory = parse_qs(url.query).get("ansible_inventory", [None])[0]
    if not inventory or not Path(inventory).is_file():
        raise UserError(
            f"hosts.{role}: {spec.split('?')[0]} needs ?inventory=FILE naming an existing Ansible "
            f"inventory (got {inventory or 'none'}): fix the path in the environment file"
        )
    _ansible_on_path()
    try:
        names = AnsibleRunner.get_runner(inventory).get_hosts(url.netloc or "all")
    except Exception as exc:  # ansible-inventory's own message: a broken inventory file
        raise UserError(f"hosts.{role}: cannot read the inventory {inventory}: {exc}") from None
    if not names:
        raise UserError(
            f"hosts.{role}: group {url.netloc!r} has no hosts in {inventory}: name a group the "
            "inventory defines"
        )
    return [f"ansible://{name}?{url.query}" for name in names]


def _ansible_on_path() -> None:
    """testinfra calls `ansible-inventory` by name: the one installed beside this Python."""
    here = str(Path(sys.executable).parent)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def label(spec: str) -> str:
    """A host's short name for messages: user@host:port, the inventory name, or `local`."""
    url = urlparse(spec)
    return url.netloc or url.scheme or spec


def each_host(
    run: Run,
    role: str,
    action: Callable[[str], T],
    *,
    one_at_a_time: bool = False,
    among: list[str] | None = None,
) -> dict[str, T]:
    """action(spec) on every host of `role` (only those `among`, when given); {spec: result}.
    Raises when any host failed."""
    specs = [spec for spec in run.hosts(role) if among is None or spec in among]
    failed = threading.Event()
    results: dict[str, T] = {}
    errors: dict[str, Exception] = {}

    def on(spec: str) -> None:
        if failed.is_set():
            errors[spec] = StepFailed(f"{label(spec)}: not started, another host failed first")
            run.journal.write("host_result", paso=run.executor.paso, role=role, host=spec,
                              ok=False, seconds=0.0, error=str(errors[spec]))  # fmt: skip
            return
        started = time.monotonic()
        try:
            results[spec] = action(spec)
        except (StepFailed, UserError) as exc:
            errors[spec] = exc
            failed.set()
        seconds = round(time.monotonic() - started, 3)
        error = str(errors[spec]) if spec in errors else None
        run.journal.write("host_result", paso=run.executor.paso, role=role, host=spec,
                          ok=error is None, seconds=seconds, error=error)  # fmt: skip

    workers = 1 if one_at_a_time else min(run.env.parallel_hosts, len(specs))
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
