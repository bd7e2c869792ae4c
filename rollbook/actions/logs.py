"""The environment's log files: where they end now, and the error lines written since."""

from __future__ import annotations

import re

from rollbook.core.config import LogsConfig
from rollbook.core.host import Host


def log_offsets(host: Host, logs: LogsConfig) -> dict[str, int]:
    """Current size of every log file (0 when it does not exist yet)."""
    offsets = {}
    for path in logs.files:
        out = host.run(["stat", "-c", "%s", path], mutating=False, check=False, root="logs")
        offsets[path] = int(out.stdout.strip()) if out.ok and out.stdout.strip().isdigit() else 0
    return offsets


def errors_since(host: Host, logs: LogsConfig, offsets: dict[str, int]) -> list[str]:
    """Lines matching the environment's error pattern written after `offsets`."""
    pattern = re.compile(logs.error_pattern)
    found = []
    for path, offset in offsets.items():
        argv = ["tail", "-c", f"+{offset + 1}", path]
        out = host.run(argv, mutating=False, check=False, root="logs")
        found += [f"{path}: {line}" for line in out.stdout.splitlines() if pattern.search(line)]
    return found
