"""How one shell line reaches a host, one transport per kind of host (as testinfra's `backend/`
splits them): `local://` runs it here, `ssh://` (and Ansible hosts over ssh) through the ssh
command line testinfra builds, with keep-alives so that a dead link is noticed and one shared
connection per host (ControlMaster, its socket in a private folder of this run: a command costs
no new handshake; a master that dropped is replaced by the next command); any other testinfra
backend (docker://, kubectl://, …) through testinfra itself. Local and ssh lines are bounded
here too (the remote `timeout` plus a grace period), so that nothing waits forever on a host that
stopped answering, and take standard input (the content of a secret file: a secret is never part
of a command line). The run's policy (journal, dry-run, read-only) wraps them: core/executor.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any, Protocol

import testinfra
from testinfra.backend.ansible import AnsibleBackend
from testinfra.backend.local import LocalBackend
from testinfra.backend.ssh import SshBackend

from rollbook.core.errors import UserError

KEEPALIVE = ("-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3")
GRACE = 30.0  # seconds the local bound adds to the remote `timeout` (kill -k 10 and the link)
LINK_LOST = 124  # the exit status of a command whose host stopped answering (as `timeout`'s)
PERSIST = 30  # seconds a shared connection outlives its last command (a run killed, say)


@dataclass(frozen=True)
class Transported:
    exit_status: int
    stdout: str
    stderr: str
    planned: bool = False  # a dry-run's planning transport wrote it down instead of running it

    @property
    def error(self) -> str | None:
        """None when the line succeeded, else what it said (or its exit status)."""
        return None if self.exit_status == 0 else self.stderr.strip() or str(self.exit_status)


class Transport(Protocol):
    def send(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        """Run one shell line on the host; `bound` seconds at most where the transport can."""
        ...

    def close(self) -> None:
        """End what the transport keeps open (a shared connection)."""
        ...


@dataclass
class LocalTransport:
    grace: float = GRACE

    def send(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        return _bounded(["/bin/sh", "-c", line], stdin, bound, self.grace)

    def close(self) -> None:
        return None


@dataclass
class SshTransport:
    backend: SshBackend
    grace: float = GRACE
    _control: str | None = None  # the folder of the shared connection's socket, ours to remove

    def __post_init__(self) -> None:
        if not _sets_control_path(self.backend):
            self._control = tempfile.mkdtemp(prefix="rollbook-ssh-")  # 0700, short path
            self.backend.controlpath = f"{self._control}/%%C"  # %C: a hash of host, port, user
            self.backend.controlpersist = PERSIST

    @property
    def control_path(self) -> str:
        """The shared connection's socket path as ssh reads it."""
        return str(self.backend.controlpath).replace("%%", "%")

    def send(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        return _bounded(["/bin/sh", "-c", _ssh_line(self.backend, line)], stdin, bound, self.grace)

    def close(self) -> None:
        """The shared connection ended (`ssh -O exit`) and its socket's folder removed."""
        if self._control is None:
            return
        control, self._control = self._control, None
        subprocess.run(
            ["/bin/sh", "-c", _ssh_line(self.backend, "", "-O exit")],
            capture_output=True,
            timeout=GRACE,
            check=False,
        )
        shutil.rmtree(control, ignore_errors=True)


@dataclass
class BackendTransport:
    """Another testinfra backend: no standard input, no local bound."""

    backend: Any
    spec: str

    def send(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        if stdin is not None:
            raise UserError(
                f"{self.spec}: a {self.backend.NAME} host cannot receive a secret file (it needs "
                "standard input): use an ssh://, ansible:// (over ssh) or local:// host"
            )
        out = self.backend.run(line)
        return Transported(out.rc, out.stdout, out.stderr)

    def close(self) -> None:
        return None


def transport_for(spec: str, grace: float = GRACE) -> Transport:
    """The transport of a host spec (local://, ssh://user@h:port?…, ansible://name?…, …)."""
    backend = testinfra.get_host(spec).backend
    if isinstance(backend, AnsibleBackend) and not backend.force_ansible:
        backend = backend.ansible_runner.get_host(backend.host).backend  # as testinfra does
    if isinstance(backend, LocalBackend):
        return LocalTransport(grace)
    if isinstance(backend, SshBackend):
        return SshTransport(backend, grace)
    return BackendTransport(backend, spec)


def _sets_control_path(backend: SshBackend) -> bool:
    """The host's spec or inventory chose its own shared connection (or none)."""
    chosen = f"{backend.ssh_extra_args or ''} {backend.controlpath or ''}".lower()
    return "controlpath" in chosen or "controlmaster" in chosen or bool(backend.controlpath)


def _ssh_line(backend: SshBackend, line: str, control: str = "") -> str:
    """testinfra's own ssh line for this host, with keep-alives (and an `-O` control command)."""
    parts, values = backend._build_ssh_command(line)
    extra = [] if "serveralive" in " ".join(str(p) for p in parts).lower() else list(KEEPALIVE)
    if control:
        extra.append(control)
    if extra:
        parts = [*parts[:-1], " ".join(extra), parts[-1]]
    return backend.quote(" ".join(parts), *values)


def _bounded(argv: list[str], stdin: str | None, bound: float | None, grace: float) -> Transported:
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the whole call can be stopped at once (ssh and its children)
    )
    limit = bound + grace if bound else None
    try:
        out, err = process.communicate(stdin.encode() if stdin is not None else None, limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        note = (
            f"\nno answer from the host within {limit:.0f} s (its bound plus {grace:.0f} s): "
            "the link or the host stopped responding; the call was stopped here"
        )
        return Transported(
            LINK_LOST, out.decode(errors="replace"), err.decode(errors="replace") + note
        )
    return Transported(
        process.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    )
