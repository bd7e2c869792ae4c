"""What really serves: the processes of a service as observed on its host (never the manager's
word alone), when each started, and whether it still maps files a later change deleted.

Times are seconds since the host booted (/proc/uptime and /proc/PID/stat's start time): one
clock on the host, to 1/100 s, with no time zone or NTP step in between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rollbook.core.config import Environment
from rollbook.core.host import Host
from rollbook.services.base import ServiceManager

_START_FIELD = 19  # /proc/PID/stat's field 22 (starttime), counted after the ")" of field 2


@dataclass(frozen=True)
class Serving:
    """One service's processes on one host: pid → start (s since boot), and the deleted files
    under the app's folders each pid still maps."""

    name: str
    started: dict[int, float]
    deleted: dict[int, list[str]]
    unreadable: tuple[int, ...] = ()  # whose maps this login user may not read (another user's)

    def older_than(self, moment: float) -> list[int]:
        return sorted(pid for pid, start in self.started.items() if start < moment)


def process_table(host: Host) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process on the host (ps)."""
    out = host.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], mutating=False).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    return [(int(r[0]), int(r[1]), r[2] if len(r) > 2 else "") for r in rows if len(r) >= 2]


def service_tree(table: list[tuple[int, int, str]], roots: set[int]) -> set[int]:
    """The pids of `roots` and of all their descendants."""
    found, grew = set(roots), True
    while grew:
        more = {pid for pid, parent, _ in table if parent in found and pid not in found}
        found |= more
        grew = bool(more)
    return found & {pid for pid, _, _ in table}


def manager_tree(host: Host, manager: ServiceManager, names: list[str]) -> set[int]:
    """The pids the service manager has for `names`, and all their descendants, now."""
    roots = {pid for name in names for pid in manager.pids(name)}
    return service_tree(process_table(host), roots)


def host_uptime(host: Host) -> float:
    """Seconds since the host booted, now."""
    return float(host.run(["cat", "/proc/uptime"], mutating=False).stdout.split()[0])


_TICKS: dict[str, int] = {}  # host spec → its clock ticks per second (fixed while it runs)


def clock_ticks(host: Host) -> int:
    """The unit of /proc/PID/stat's start times on `host`, asked once per host."""
    if host.spec not in _TICKS:
        out = host.run(["getconf", "CLK_TCK"], mutating=False, check=False).stdout.strip()
        _TICKS[host.spec] = int(out) if out.isdigit() and int(out) > 0 else 100
    return _TICKS[host.spec]


def observe(host: Host, env: Environment, manager: ServiceManager, name: str) -> Serving:
    """The service's main process and all its descendants, as the host shows them now."""
    pids = sorted(service_tree(process_table(host), set(manager.pids(name))))
    if not pids:
        return Serving(name, {}, {})
    ticks = clock_ticks(host)
    stats = host.run(
        ["cat", *(f"/proc/{pid}/stat" for pid in pids)], mutating=False, check=False
    ).stdout
    started = {}
    for line in stats.splitlines():
        pid, _, rest = line.partition(" (")
        fields = rest.rpartition(") ")[2].split()
        if pid.isdigit() and len(fields) > _START_FIELD:
            started[int(pid)] = int(fields[_START_FIELD]) / ticks
    deleted, unreadable = mapped_deleted(host, env, list(started))
    return Serving(name, started, deleted, unreadable)


def mapped_deleted(
    host: Host, env: Environment, pids: list[int]
) -> tuple[dict[int, list[str]], tuple[int, ...]]:
    """pid → files under the app's path or venv that the process maps and that no longer exist
    (pip replaced a package, git checked out another release) — the old code still runs; and
    the pids whose maps the login user may not read (processes of another user)."""
    if not pids:
        return {}, ()
    argv = ["grep", "-H", "-F", " (deleted)", *(f"/proc/{pid}/maps" for pid in pids)]
    result = host.run(argv, mutating=False, check=False)
    denied = re.findall(r"/proc/(\d+)/maps: Permission denied", result.stderr)
    # the kernel names mapped files by their real path: the folders as written and as resolved
    # (a venv or a checkout reached through a symbolic link)
    folders = [p.rstrip("/") for p in (env.app.path, env.app.venv) if p]
    real = host.run(["realpath", "-e", "--", *folders], mutating=False, check=False).stdout
    roots = tuple(f"{p}/" for p in dict.fromkeys([*folders, *real.splitlines()]) if p)
    found: dict[int, set[str]] = {}
    for line in result.stdout.splitlines():
        where, _, mapping = line.partition(":")
        path = mapping.split(None, 5)[-1].removesuffix(" (deleted)") if mapping else ""
        pid = where.removeprefix("/proc/").removesuffix("/maps")
        if pid.isdigit() and path.startswith(roots):
            found.setdefault(int(pid), set()).add(path)
    return {pid: sorted(paths) for pid, paths in found.items()}, tuple(map(int, denied))


def fresh_since(serving: Serving, moment: float) -> tuple[bool, str]:
    """The service runs, every process of it started after `moment` (s since boot) and none maps
    a deleted file of the app: (ok, what was observed)."""
    if not serving.started:
        return False, f"{serving.name}: no process found"
    old = serving.older_than(moment)
    if old:
        ages = ", ".join(f"pid {p} started {moment - serving.started[p]:.1f} s before" for p in old)
        return False, f"{serving.name}: processes from before the restart still serve ({ages})"
    if serving.deleted:
        pid, paths = next(iter(sorted(serving.deleted.items())))
        return False, f"{serving.name}: pid {pid} maps deleted files ({', '.join(paths[:3])})"
    first = min(serving.started.values()) - moment
    count = len(serving.started)
    unread = (
        f"; maps of pids {list(serving.unreadable)} not readable by this user (deleted files "
        "not looked for there)"
        if serving.unreadable
        else ""
    )
    return (
        True,
        f"{serving.name}: {count} processes, started {first:.1f} s after the restart{unread}",
    )
