"""supervisord programs through supervisorctl with the environment's config file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rollbook.core.host import Host


@dataclass
class Supervisor:
    host: Host
    supervisorctl: str = "supervisorctl"
    conf: str | None = None

    def _ctl(self, *args: str, mutating: bool, check: bool = True) -> str:
        conf = ["-c", self.conf] if self.conf else []
        argv = [self.supervisorctl, *conf, *args]
        return self.host.run(argv, mutating=mutating, check=check, root="services").stdout

    def stop(self, names: list[str]) -> None:
        self._ctl("stop", *names, mutating=True)

    def start(self, names: list[str]) -> None:
        self._ctl("start", *names, mutating=True)

    def restart(self, names: list[str]) -> None:
        self._ctl("restart", *names, mutating=True)

    def reload(self, name: str) -> None:
        self._ctl("signal", "HUP", name, mutating=True)

    def states(self, names: list[str]) -> dict[str, str]:
        """Each program's RUNNING, STARTING, BACKOFF, FATAL, EXITED, STOPPED, ERROR … ("" when
        unknown), from one `status`; a group asked as `group:*` (or `group:`) by its first
        process's line."""
        lines = [
            line.split()
            for line in self._ctl("status", *names, mutating=False, check=False).splitlines()
        ]
        return {
            name: next(
                (words[1] for words in lines if len(words) > 1 and _names(words[0], name)), ""
            )
            for name in names
        }

    def state(self, name: str) -> str:
        return self.states([name])[name]

    def is_running(self, name: str) -> bool:
        return self.state(name) == "RUNNING"

    def running(self, names: list[str]) -> list[str]:
        states = self.states(names) if names else {}
        return [name for name in names if states[name] == "RUNNING"]

    def gave_up(self, name: str) -> bool:
        return self.state(name) in ("FATAL", "EXITED")

    def uptime(self, name: str) -> float | None:
        """Seconds since the program started ('RUNNING pid 12, uptime 1 day, 0:01:23')."""
        out = self._ctl("status", name, mutating=False, check=False)
        match = re.search(r"uptime (?:(\d+) days?, )?(\d+):(\d+):(\d+)", out)
        if not match:
            return None
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)

    def last_lines(self, name: str, count: int = 10) -> list[str]:
        """The end of the program's own log (`supervisorctl tail`): stderr, or stdout when stderr
        goes there (redirect_stderr) or has nothing."""
        for stream in ("stderr", "stdout"):
            out = self._ctl("tail", "-20000", name, stream, mutating=False, check=False)
            lines = [line for line in out.splitlines() if line.strip()]
            if lines and not re.fullmatch(rf"{re.escape(name)}: ERROR \(.*\)", lines[-1]):
                return lines[-count:]
        return []

    def pids(self, name: str) -> list[int]:
        out = self._ctl("pid", name, mutating=False, check=False).strip()
        return [int(out)] if out.isdigit() and int(out) > 0 else []


def _names(shown: str, name: str) -> bool:
    """A `status` line's first word is about `name`: the program itself (its error lines say
    `name:`), or a process of the group `name` asks for as `group:*` or `group:`."""
    if name.endswith((":*", ":")):
        return shown.startswith(name.rstrip("*"))
    return shown in (name, f"{name}:")
