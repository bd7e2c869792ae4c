"""The environment's log files: where they end now, and the error lines written since."""

from __future__ import annotations

import re

from rollbook.core.run import Run


def log_offsets(run: Run, spec: str) -> dict[str, int]:
    """Current size of every log file (0 when it does not exist yet)."""
    offsets = {}
    for path in run.env.logs.files:
        out = run.executor.run(
            spec, ["stat", "-c", "%s", path], mutating=False, check=False, root="logs"
        )
        offsets[path] = int(out.stdout.strip()) if out.ok and out.stdout.strip().isdigit() else 0
    return offsets


def errors_since(run: Run, spec: str, offsets: dict[str, int]) -> list[str]:
    """Lines matching the environment's error pattern written after `offsets`."""
    pattern = re.compile(run.env.logs.error_pattern)
    found = []
    for path, offset in offsets.items():
        out = run.executor.run(
            spec, ["tail", "-c", f"+{offset + 1}", path], mutating=False, check=False, root="logs"
        )
        found += [f"{path}: {line}" for line in out.stdout.splitlines() if pattern.search(line)]
    return found
