"""The environment's log files: where they end now, the error lines written since, and those
stamped since a time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from rollbook.core.config import LogsConfig, ServicesConfig
from rollbook.core.host import Host
from rollbook.services import manager_for

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


def line_time(line: str, zone: tzinfo = UTC) -> datetime | None:
    """The time a log line is stamped with (ISO-like date and time near its start), in the zone
    it names, else in `zone` (the host's: Python's logging and celery stamp local time without
    one), or None."""
    match = _STAMP.search(line[:80])
    if not match:
        return None
    stamp = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
    named = match.group(3)
    if not named:
        return stamp.replace(tzinfo=zone)
    named = named.replace("Z", "+00:00")
    named = named if ":" in named else f"{named[:3]}:{named[3:]}"
    return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{named}")


def recent_errors(
    lines: list[str], pattern: str, since: datetime, zone: tzinfo = UTC
) -> list[tuple[datetime, str]]:
    """(stamp, line) of the errors stamped at or after `since`, one line each: an unstamped
    line (a traceback's) takes the stamp before it and counts only when that stamped line did
    not already match (a Django 500 is its ERROR line and its Traceback, one error)."""
    found, regex = [], re.compile(pattern)
    stamp, counted = None, False
    for line in lines:
        stamped = line_time(line, zone)
        matches = bool(regex.search(line))
        if stamped is not None:
            stamp, counted = stamped, False
        if stamp is None or stamp < since or not matches or counted:
            continue
        found.append((stamp, line))
        counted = True
    return found


def host_zone(host: Host) -> tzinfo:
    """The host's UTC offset now (`date +%z`), for log stamps that name no zone; UTC when it
    does not say."""
    said = host.run(["date", "+%z"], mutating=False, check=False).stdout.strip()
    if not re.fullmatch(r"[+-]\d{4}", said):
        return UTC
    minutes = int(said[1:3]) * 60 + int(said[3:5])
    return timezone(timedelta(minutes=-minutes if said[0] == "-" else minutes))


@dataclass(frozen=True)
class Stamped:
    """Error lines read by their stamps: (stamp, "<file>: <line>"), and the files not read."""

    errors: list[tuple[datetime, str]]
    unread: list[str]


def stamped_errors(host: Host, logs: LogsConfig, since: datetime) -> Stamped:
    """The error lines of every log file stamped since `since`, read from each file's last
    TAIL_BYTES; a file that cannot be read is named, never counted as clean."""
    found, unread, zone = [], [], host_zone(host)
    for path in logs.files:
        out = host.run(["tail", "-c", TAIL_BYTES, path], mutating=False, check=False, root="logs")
        if not out.ok:
            unread.append(f"{path}: {(out.stderr.strip() or f'exit {out.exit_status}')[:200]}")
            continue
        errors = recent_errors(out.stdout.splitlines(), logs.error_pattern, since, zone)
        found += [(at, f"{path}: {line}") for at, line in errors]
    return Stamped(found, unread)


def running_window(host: Host, services: ServicesConfig, names: list[str], most: float) -> float:
    """Seconds back to the running services' last start, at most `most`: the window whose
    error lines belong to the release running now (`most` when none says its uptime)."""
    manager = manager_for(host, services)
    uptimes = [manager.uptime(name) for name in names]
    return min([most, *(u for u in uptimes if u is not None)])
