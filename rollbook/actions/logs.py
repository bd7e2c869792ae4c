"""The environment's log files: where they end now, the error lines written since, and those
stamped since a time."""

from __future__ import annotations

import re
from datetime import datetime

from rollbook.core.config import LogsConfig
from rollbook.core.host import Host

_STAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?\s*([+-]\d{2}:?\d{2}|Z)?"
)
TAIL_BYTES = "2000000"  # of each log read for stamped lines: the last minutes of a busy app


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


def line_time(line: str) -> datetime | None:
    """The time a log line is stamped with (ISO-like date and time near its start; UTC when
    it names no zone), or None."""
    match = _STAMP.search(line[:80])
    if not match:
        return None
    zone = (match.group(3) or "+00:00").replace("Z", "+00:00")
    zone = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{zone}")


def recent_errors(lines: list[str], pattern: str, since: datetime) -> list[tuple[datetime, str]]:
    """(stamp, line) of the error lines stamped at or after `since`; an unstamped line (a
    traceback's) takes the last stamp before it."""
    found, stamp, regex = [], None, re.compile(pattern)
    for line in lines:
        stamp = line_time(line) or stamp
        if stamp is not None and stamp >= since and regex.search(line):
            found.append((stamp, line))
    return found


def stamped_errors(host: Host, logs: LogsConfig, since: datetime) -> list[tuple[datetime, str]]:
    """The error lines of every log file stamped since `since`, as (stamp, "<file>: <line>"),
    read from each file's last TAIL_BYTES."""
    found = []
    for path in logs.files:
        argv = ["tail", "-c", TAIL_BYTES, path]
        lines = host.run(argv, mutating=False, check=False, root="logs").stdout.splitlines()
        found += [
            (at, f"{path}: {line}") for at, line in recent_errors(lines, logs.error_pattern, since)
        ]
    return found
