"""The way to one host: how a command line reaches it, bounded on both ends, with secrets
delivered as private files instead of arguments (the Pasos act through rollbook.core.host).

A command is one /bin/sh line built from an argument list (every part quoted). It runs through
the host's testinfra backend as a transport: `local://` directly, `ssh://` and Ansible hosts
through the ssh command line testinfra builds for them, plus SSH keep-alives so that a dead link
is noticed, one shared connection per host (ControlMaster, its socket in a private folder of this
run: a command costs no new handshake; a master that dropped is replaced by the next command), and
a local bound on the whole call (the remote `timeout` plus a grace period) so
that nothing waits forever on a host that stopped answering. Standard input carries the content
of secret files (a pgpass file, for instance): a secret is never part of any command line.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

    @property
    def error(self) -> str | None:
        """None when the line succeeded, else what it said (or its exit status)."""
        return None if self.exit_status == 0 else self.stderr.strip() or str(self.exit_status)


# Exports the KEY=VALUE lines of each file before `--` (blank lines, comments and invalid names
# skipped, an `export ` prefix and matching outer quotes dropped; values taken literally, never
# run as shell code), then runs the command after it.
ENV_FILES_LOADER = r'''while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in ""|\#*) continue;; esac
    l=${l#export }; k=${l%%=*}; v=${l#*=}
    case $k in ""|*[!A-Za-z0-9_]*|[0-9]*) continue;; esac
    [ "$k" = "$l" ] && continue
    case $v in \"*\") v=${v#\"}; v=${v%\"};; \'*\') v=${v#\'}; v=${v%\'};; esac
    export "$k=$v"
  done < "$1" || exit 126
  shift
done
shift
exec "$@"'''


def command_line(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    env_files: Sequence[str] = (),
    timeout: float | None = None,
    sudo: bool = False,
    owner: Sequence[str] = (),
) -> str:
    """The /bin/sh line for an argument list, wrappers included, every part quoted.

    `sudo -n` comes right before the command itself, so a sudoers rule names the real program
    (e.g. supervisorctl) and `timeout` still bounds it; sudo resets the environment, so root
    actions take none. Environment values here are never secrets (a secret reaches a command as
    a private file, one of `env_files`, read on the host; `env` is applied over them).
    `owner`: the words that run the whole line as another user (the app's: `runuser -u USER --`
    or `sudo -n -u USER --`), its folder, environment files and bound included."""
    parts = ["sudo", "-n", *argv] if sudo else list(argv)
    if timeout:
        parts = ["timeout", "-k", "10", str(max(1, round(timeout))), *parts]
    if env:
        parts = ["env", *(f"{k}={v}" for k, v in env.items()), *parts]
    if env_files:
        parts = ["sh", "-c", ENV_FILES_LOADER, "sh", *env_files, "--", *parts]
    line = shlex.join(parts)
    line = f"cd {shlex.quote(cwd)} && {line}" if cwd else line
    return shlex.join([*owner, "sh", "-c", line]) if owner else line


def _underlying(backend: Any) -> Any:
    """An Ansible host's own connection backend (ssh or local), as testinfra itself uses it."""
    if isinstance(backend, AnsibleBackend) and not backend.force_ansible:
        return backend.ansible_runner.get_host(backend.host).backend
    return backend


@dataclass
class Connection:
    """A host spec (local://, ssh://user@h:port?…, ansible://name?…) and the way to it."""

    spec: str
    incident: str
    grace: float = GRACE
    _backend: Any = None
    # the run's private folders here, by the words that run a command as their owner: () the
    # login user's, (runuser|sudo …, USER, --) the app user's (app.user)
    _folders: dict[tuple[str, ...], str] = field(default_factory=dict)
    _secrets: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _control: str | None = None

    @property
    def backend(self) -> Any:
        if self._backend is None:
            backend = _underlying(testinfra.get_host(self.spec).backend)
            if isinstance(backend, SshBackend) and not _sets_control_path(backend):
                self._control = tempfile.mkdtemp(prefix="rollbook-ssh-")  # 0700, short path
                backend.controlpath = f"{self._control}/%%C"  # %C: a hash of host, port, user
                backend.controlpersist = PERSIST
            self._backend = backend
        return self._backend

    def transport(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        """Run one shell line on the host; `bound` seconds at most, measured here."""
        backend = self.backend
        if isinstance(backend, LocalBackend):
            argv = ["/bin/sh", "-c", line]
        elif isinstance(backend, SshBackend):
            argv = ["/bin/sh", "-c", _ssh_line(backend, line)]
        elif stdin is None:  # another testinfra backend: no standard input, no local bound
            out = backend.run(line)
            return Transported(out.rc, out.stdout, out.stderr)
        else:
            raise UserError(
                f"{self.spec}: a {backend.NAME} host cannot receive a secret file (it needs "
                "standard input): use an ssh://, ansible:// (over ssh) or local:// host"
            )
        return _bounded(argv, stdin, bound, self.grace)

    def secret_file(self, name: str, content: str, owner: Sequence[str] = ()) -> str:
        """A file only its owner can read, in this run's private folder (0700, made with it),
        written through standard input in one call to the host; its path. The same content is
        written once. `owner`: the words that run a command as the folder's owner (none: the
        login user, under $HOME/.rollbook/runs; the app user's under $TMPDIR or /tmp, since a
        no-login user's home may not exist)."""
        owner = tuple(owner)
        with self._lock:
            known = self._folders.get(owner)
            path = f"{known}/{name}" if known else None
            if path is not None and self._secrets.get(path) == content:
                return path
            folder = shlex.quote(known) if known else run_folder(self.incident, bool(owner))
            quoted = shlex.quote(name)
            script = (
                f'umask 077 && d={folder} && mkdir -p "$d" && cd "$d" && '
                f"cat > {quoted}.new && mv {quoted}.new {quoted} && pwd -P"
            )
            line = shlex.join([*owner, "sh", "-c", script]) if owner else script
            wrote = self.transport(line, stdin=content, bound=60)
            if wrote.exit_status != 0 or not wrote.stdout.strip():
                where = "$TMPDIR (or /tmp) as app.user" if owner else "$HOME/.rollbook/runs"
                raise UserError(
                    f"{self.spec}: cannot write the private file {name} under {where}: "
                    f"{wrote.stderr.strip() or wrote.exit_status}"
                )
            known = self._folders[owner] = wrote.stdout.strip().splitlines()[-1]
            path = f"{known}/{name}"
            self._secrets[path] = content
        return path

    def remove_private_folder(self) -> str | None:
        """Remove this run's private folders (their secret files), each as its owner; the
        errors, if any."""
        errors = []
        for owner, folder in list(self._folders.items()):
            done = self.transport(shlex.join([*owner, "rm", "-rf", "--", folder]), bound=60)
            errors += [done.error] if done.error else []
        self._folders.clear()
        self._secrets.clear()
        return "; ".join(errors) or None

    def close(self) -> None:
        """The shared connection ended (`ssh -O exit`) and its private folder removed."""
        if self._control is None:
            return
        backend, self._control = self.backend, None
        subprocess.run(
            ["/bin/sh", "-c", _ssh_line(backend, "", "-O exit")],
            capture_output=True,
            timeout=GRACE,
            check=False,
        )
        shutil.rmtree(backend.controlpath.rsplit("/", 1)[0], ignore_errors=True)


# a run's private folder: the login user's, or the app user's (app.user)
PRIVATE_FOLDER = re.compile(r"/(?:[^/\0]+/)*(?:\.rollbook/runs/|rollbook-run-)\w[^/\0]*")


def run_folder(incident: str, app: bool = False) -> str:
    """A new private folder for a run on a host, as a shell word ($HOME, $TMPDIR expand there):
    named by the incident and a random part, since two report folders may hold incidents of one
    id; the app user's (`app`) in $TMPDIR or /tmp."""
    name = f"{incident}.{secrets.token_hex(4)}"
    if app:
        return f'"${{TMPDIR:-/tmp}}/rollbook-run-"{shlex.quote(name)}'
    return f'"$HOME/.rollbook/runs/"{shlex.quote(name)}'


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
