"""systemd units through systemctl (under sudo when the environment's `sudo` lists services)."""

from __future__ import annotations

from dataclasses import dataclass

from rollbook.core.host import Host


@dataclass
class Systemd:
    host: Host

    def _ctl(self, *args: str, mutating: bool, check: bool = True) -> str:
        return self.host.run(
            ["systemctl", *args], mutating=mutating, check=check, root="services"
        ).stdout

    def stop(self, names: list[str]) -> None:
        self._ctl("stop", *names, mutating=True)

    def start(self, names: list[str]) -> None:
        self._ctl("start", *names, mutating=True)

    def restart(self, names: list[str]) -> None:
        self._ctl("restart", *names, mutating=True)

    def reload(self, name: str) -> None:
        self._ctl("reload", name, mutating=True)

    def is_running(self, name: str) -> bool:
        return self._ctl("is-active", name, mutating=False, check=False).strip() == "active"

    def running(self, names: list[str]) -> list[str]:
        """One `systemctl is-active` for all: a line per unit, in order — asked one by one
        where that cannot hold (a glob expands to any number of units; an error cuts the
        answer short)."""
        if not names:
            return []
        globbed = any(set("*?[") & set(name) for name in names)
        states = (
            [] if globbed else self._ctl("is-active", *names, mutating=False, check=False).split()
        )
        if len(states) != len(names):
            return [name for name in names if self.is_running(name)]
        return [name for name, state in zip(names, states, strict=True) if state == "active"]

    def gave_up(self, name: str) -> bool:
        return self._ctl("is-active", name, mutating=False, check=False).strip() == "failed"

    def uptime(self, name: str) -> float | None:
        """Seconds since the unit became active (ActiveEnterTimestampMonotonic vs uptime)."""
        value = self._ctl(
            "show",
            "-p",
            "ActiveEnterTimestampMonotonic",
            "--value",
            name,
            mutating=False,
            check=False,
        ).strip()
        booted = self.host.run(["cat", "/proc/uptime"], mutating=False).stdout
        if not value.isdigit() or int(value) == 0:
            return None
        return float(booted.split()[0]) - int(value) / 1e6

    def last_lines(self, name: str, count: int = 10) -> list[str]:
        """The end of the unit's journal (journalctl; under sudo when `sudo` lists logs)."""
        out = self.host.run(
            ["journalctl", "-u", name, "-n", str(count), "--no-pager", "-o", "cat"],
            mutating=False,
            check=False,
            root="logs",
        ).stdout
        return [line for line in out.splitlines() if line.strip()][-count:]

    def pids(self, name: str) -> list[int]:
        out = self._ctl("show", "-p", "MainPID", "--value", name, mutating=False, check=False)
        return [int(out)] if out.strip().isdigit() and int(out) > 0 else []
