"""Running the sandbox's commands: progress lines, a log of every command, bounded waits."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rollbook.core.errors import UserError

IS_ROOT = os.geteuid() == 0


class SandboxError(Exception):
    """A provisioning step failed; the message names the step and where its output is."""


def say(message: str) -> None:
    print(f"sandbox: {message}", flush=True)


@dataclass(frozen=True)
class Shell:
    """Runs commands, appending each command line and its output to `log`."""

    log: Path

    def run(
        self,
        cmd: Sequence[str | Path],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        user: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` (as `user` through runuser when given); raise SandboxError if it fails."""
        argv = [str(part) for part in cmd]
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            input=stdin or "",  # never the caller's terminal: nothing may wait for an answer
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"$ {shlex.join(argv)}\n{result.stdout}[exit {result.returncode}]\n")
        if check and result.returncode != 0:
            lines = [line for line in result.stdout.splitlines() if line.strip()]
            last = lines[-1].strip() if lines else "no output"
            raise SandboxError(
                f"`{shlex.join(argv[:4])}{' …' if len(argv) > 4 else ''}` failed "
                f"(exit {result.returncode}): {last} (full output in {self.log})"
            )
        return result


SEARCH_PATH = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"))


def require_binary(program: str | Path, install: str) -> str:
    """The absolute path of a program the sandbox needs, or a one-line hint to install it."""
    found = shutil.which(str(program), path=SEARCH_PATH)
    if found is None:
        raise UserError(f"{program} not found: run `make setup` ({install})")
    return found


def wait_for(check: Callable[[], bool], what: str, timeout: float, detail: str = "") -> None:
    """Poll `check` with a growing interval until it is true; SandboxError after `timeout`."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while not check():
        if time.monotonic() > deadline:
            raise SandboxError(f"{what} did not happen within {timeout:.0f}s{detail}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ensure_port_free(port: int, component: str, key: str, wait: float = 30.0) -> None:
    """Free now, or within `wait` seconds (a program just stopped may still be closing it)."""
    deadline = time.monotonic() + wait
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not port_is_free(port):
        raise UserError(
            f"port 127.0.0.1:{port} for {component} is already taken by another process: "
            f"find it with `ss -ltnp 'sport = :{port}'`, stop it, or change {key} "
            "in environments/sandbox.yaml"
        )
