"""The run's policy for every command a Host runs (rollbook.core.host): the mode, the Paso acting,
the journal, sudo for root actions, the default bound, and each host's Connection. One path:
Host.run → Executor.execute → a transport (the host's, or in a dry-run the planning one).

Every command is recorded in the journal (host, argv, the exact line that ran with its wrappers,
start, end, exit code, output with secrets redacted). No secret is ever part of a command line: a
command that needs one gets a private file on its host (`Host.pgpass`). Each call says whether
it mutates: a dry-run records a mutating command as planned without running it, a read-only run
refuses it.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from rollbook.core.command import Command, CommandResult, command_line
from rollbook.core.connection import Connection
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.host import Host
from rollbook.core.journal import Journal, now_iso
from rollbook.core.redact import Redactor
from rollbook.core.transports import Transport, Transported

_KEEP_OUTPUT = 20_000


class Mode(Enum):
    EXECUTE = "execute"
    DRY_RUN = "dry-run"
    READ_ONLY = "read-only"


class CommandFailed(StepFailed):
    pass


class ReadOnlyRefused(UserError):
    pass


@dataclass
class Executor:
    journal: Journal
    redactor: Redactor
    mode: Mode = Mode.EXECUTE
    root_actions: frozenset[str] = frozenset()  # actions run under `sudo -n` (environment's sudo)
    progress: Callable[[str], None] = print
    paso: str | None = None
    default_timeout: float | None = None  # every remote command is bounded (YAML timeouts)
    incident: str = "adhoc"  # names each host's private folder of this run
    app_secrets: dict[str, str] = field(default_factory=dict)  # app.secret_env, resolved
    app_user: str | None = None  # app.user: app commands run as it
    _connections: dict[str, Connection] = field(default_factory=dict)
    _logins: dict[str, str] = field(default_factory=dict)
    _private: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def acting_for(self, paso: str) -> Iterator[None]:
        """The commands of this block are journaled under `paso` (the lock, the ledger, §9 are
        the tool's own work, journaled apart from the Pasos); the previous one is put back."""
        previous, self.paso = self.paso, paso
        try:
            yield
        finally:
            self.paso = previous

    @property
    def planning(self) -> bool:
        """A dry-run: mutating commands are planned, so their effects cannot be checked."""
        return self.mode is Mode.DRY_RUN

    def host(self, spec: str) -> Host:
        """The handle the Pasos act on host `spec` through."""
        return Host(spec, self)

    def connection(self, spec: str) -> Connection:
        with self._lock:  # the hosts of a Paso run from their own threads
            if spec not in self._connections:
                self._connections[spec] = Connection(spec, self.incident)
            return self._connections[spec]

    def private_file(self, spec: str, name: str, content: str, app: bool = False) -> str:
        """A file only the login user reads (`app`: only app.user, where the app's commands run
        as it), in this run's private folder on host `spec` (journaled as `private_file`,
        removed when the run closes); its path."""
        owner = self.app_owner(spec) if app else []
        path = self.connection(spec).secret_file(name, content, owner)
        with self._lock:
            if (spec, path) not in self._private:
                self._private.add((spec, path))
                self.journal.write(
                    "private_file", paso=self.paso, host=spec, path=path, app=bool(owner)
                )
        return path

    def app_owner(self, spec: str) -> list[str]:
        """The words that run an app command as app.user on host `spec`: none without app.user
        or where rollbook logs in as it; `runuser -u USER --` from root; `sudo -n -u USER --`
        from any other login (a sudoers rule lets it run commands as USER)."""
        user = self.app_user
        if not user:
            return []
        if spec not in self._logins:  # asked once a host: who rollbook logs in as there
            said = self.host(spec).run(["id", "-un"], mutating=False).stdout.strip()
            self._logins[spec] = said
        return owner_words(self._logins[spec], user)

    def close_hosts(self) -> list[str]:
        """Remove every host's private folder of this run and end its shared connection; the
        errors, one line each."""
        errors = []
        for spec, connection in list(self._connections.items()):
            try:
                error = connection.remove_private_folder()
                connection.close()
            except (OSError, UserError, RuntimeError, subprocess.SubprocessError) as exc:
                error = str(exc)
            if error:
                errors.append(f"{spec}: {error}")
        return errors

    def execute(self, spec: str, command: Command) -> CommandResult:
        """Run a Host's command on host `spec` as one quoted /bin/sh line, through the way the
        mode gives it (`_way`), journaled (`command`) with its result; CommandFailed on a non-zero
        exit when the command checks it."""
        bound = command.timeout or self.default_timeout
        line = command_line(
            command.argv,
            cwd=command.cwd,
            env=command.env,
            env_files=command.env_files,
            timeout=bound,
            sudo=command.root is not None and command.root in self.root_actions,
            owner=self.app_owner(spec) if command.app else [],
        )
        way = self._way(spec, command, line)
        start, started = now_iso(), time.monotonic()
        try:
            out = way.send(line, bound=bound)
        except RuntimeError as exc:  # another backend raising on a connection failure
            failed = exc.args[0] if exc.args else None
            out = Transported(255, "", getattr(failed, "stderr", None) or str(exc))
        if out.planned:
            return CommandResult(spec, command.argv, 0, "", "", 0.0, planned=True)
        duration = round(time.monotonic() - started, 3)
        self.journal.write(
            "command",
            paso=self.paso,
            host=spec,
            argv=command.argv,
            line=line,
            cwd=command.cwd,
            mutating=command.mutating,
            start=start,
            end=now_iso(),
            duration=duration,
            exit=out.exit_status,
            stdout=out.stdout[-_KEEP_OUTPUT:],
            stderr=out.stderr[-_KEEP_OUTPUT:],
        )
        result = CommandResult(
            spec, command.argv, out.exit_status, out.stdout, out.stderr, duration
        )
        if command.check and not result.ok:
            raise CommandFailed(self.describe_failure(result))
        return result

    def _way(self, spec: str, command: Command, line: str) -> Transport:
        """The host's transport, a mutating command's intent journaled before it runs; in a
        dry-run the planning transport (it writes down the exact `line` a real run would run:
        sudo, bounds, environment); in a read-only run, none: refused."""
        if not command.mutating:
            return self.connection(spec)
        where = {"paso": self.paso, "host": spec, "argv": command.argv, "cwd": command.cwd}
        if self.mode is Mode.EXECUTE or command.declared:
            self.journal.write("intent", **where, declared=command.declared)
            return self.connection(spec)
        if self.mode is Mode.DRY_RUN:
            return Planning(self.journal, where)
        shown = self.redactor.text(shlex.join(command.argv))
        self.journal.write("refused", **where)
        raise ReadOnlyRefused(
            f"refused on {spec}: `{shown}` would change the system and this run is read-only"
        )

    def probe(self, spec: str, line: str, bound: float) -> Transported:
        """A shell line's answer on host `spec`, unjournaled (Host.probe: progress polls)."""
        return self.connection(spec).send(line, bound=bound)

    def tell(self, text: str, progress: Mapping[str, object] | None = None) -> None:
        """Say `text` to the operator; with `progress`, journal it under the Paso acting."""
        if progress is not None:
            self.journal.write("progress", paso=self.paso, **progress)
        self.progress(text)

    def describe_failure(self, result: CommandResult) -> str:
        shown = self.redactor.text(shlex.join(result.argv))
        said = [
            line
            for line in (result.stderr.strip() or result.stdout.strip()).splitlines()
            if line.strip()
        ]
        # the last lines, and the first when they leave it out: a tool's error often comes first
        # and its hints after (git: "fatal: detected dubious ownership …", then what to run)
        detail = said[-3:] if len(said) <= 3 else [said[0], "…", *said[-3:]]
        why = (
            "timed out: it ran past its bound (`timeouts:` in the environment file) and was "
            "stopped as hung"
            if result.exit_status == 124
            else f"exited {result.exit_status}"
        )
        text = f"{result.host}: `{shown}` {why}"
        text = f"{text}: {' / '.join(detail)}" if detail else text
        return self.redactor.text(text + connection_hint(result))


@dataclass(frozen=True)
class Planning:
    """A dry-run's transport for mutating commands: it writes the line down (`planned`) instead
    of running it."""

    journal: Journal
    where: dict[str, object]

    def send(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        self.journal.write("planned", **self.where, line=line)
        return Transported(0, "", "", planned=True)

    def close(self) -> None:
        return None


def owner_words(login: str, user: str) -> list[str]:
    """The words that run a command as `user` when logged in as `login`."""
    if login == user:
        return []
    return ["runuser", "-u", user, "--"] if login == "root" else ["sudo", "-n", "-u", user, "--"]


def connection_hint(result: CommandResult) -> str:
    """What to do when the host itself could not be reached (ssh exits 255), else ""."""
    if not result.unreached:
        return ""
    if "Permission denied" in result.stderr or "Too many authentication failures" in result.stderr:
        return (
            " — SSH refused the login: check the user and the key of this host in the "
            "environment file (ssh_identity_file=…) and that the key's .pub is in the host's "
            "authorized_keys"
        )
    if "Host key verification failed" in result.stderr:
        return " — the host's key is unknown or changed: check it, then add it to known_hosts"
    return (
        " — the host cannot be reached over SSH: check its address and port in the "
        "environment file, the network, and that sshd runs there"
    )
