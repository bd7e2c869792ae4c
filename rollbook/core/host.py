"""One host the run acts on, as the Pasos and their adapters see it (in the spirit of
pytest-testinfra's `host`): the one place where commands run. Each is an argument list, quoted
into one /bin/sh line with its wrappers (cd, env, timeout, sudo -n for the root actions the
environment lists), journaled under the Paso acting by the run's Executor, bounded, secret-free.
Adapters take a Host (or a role's Hosts), never the whole run."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rollbook.core.connection import command_line
from rollbook.core.inventory import label
from rollbook.core.journal import now_iso

if TYPE_CHECKING:
    from rollbook.core.executor import CommandResult, Executor


@dataclass(frozen=True)
class Host:
    spec: str  # local://, ssh://user@h:port?…, ansible://name?… (testinfra's host specs)
    executor: Executor

    @property
    def name(self) -> str:
        """The host as people name it (user@address, without connection options)."""
        return label(self.spec)

    @property
    def planning(self) -> bool:
        """A dry-run: mutating commands are planned, so their effects cannot be checked."""
        return self.executor.planning

    def run(
        self,
        argv: Sequence[str],
        *,
        mutating: bool,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        env_files: Sequence[str] = (),
        timeout: float | None = None,
        check: bool = True,
        declared: bool = False,
        root: str | None = None,
        app: bool = False,
    ) -> CommandResult:
        """Run argv here as one quoted /bin/sh line, journaled; raises CommandFailed on a
        non-zero exit when `check`.

        `mutating`: a dry-run plans the command instead, a read-only run refuses it.
        `env_files`: files on this host whose KEY=VALUE lines the command gets (read there,
        never on the command line: the app's env file, its secret variables); `env` over them.
        `timeout`: the bound in seconds (default: the environment's `timeouts.default`).
        `root`: the action this command belongs to when it may need root (services,
        maintenance, proxy_check, logs); it runs under `sudo -n` when the environment lists that
        action under `sudo`, else as the login user like every other command.
        `app`: an app command (git, pip, manage.py, the app's files): it runs as `app.user`
        when the environment names one.
        `declared`: a write the run announced (the ledger of --record-release, the scratch
        database of a trial restore), run even in a read-only run or a dry-run, journaled as such
        and never counted as a change of the system.
        """
        executor, argv = self.executor, [str(a) for a in argv]
        bound = timeout or executor.default_timeout
        sudo = root is not None and root in executor.root_actions
        owner = executor.app_owner(self.spec) if app else []
        line = command_line(
            argv, cwd=cwd, env=env, env_files=env_files, timeout=bound, sudo=sudo, owner=owner
        )
        planned = executor.hold_back(self.spec, argv, mutating, cwd, declared, line)
        if planned is not None:
            return planned
        start, started = now_iso(), time.monotonic()
        try:
            out = executor.connection(self.spec).transport(line, bound=bound)
            status, stdout, stderr = out.exit_status, out.stdout, out.stderr
        except RuntimeError as exc:  # another backend raising on a connection failure
            failed = exc.args[0] if exc.args else None
            status, stdout, stderr = 255, "", getattr(failed, "stderr", None) or str(exc)
        return executor.finish(
            self.spec, argv, cwd, mutating, start, started, status, stdout, stderr, check, line
        )

    def secret_env_file(self, values: Mapping[str, str], name: str, app: bool = False) -> str:
        """A private file of this run on this host holding KEY=VALUE lines (secret values a
        command reads through `env_files`; `app`: an app command's); its path."""
        return self.executor.secret_env_file(self.spec, values, name, app)

    def private_file(self, name: str, content: str, app: bool = False) -> str:
        """A file only the login user reads (`app`: the file an app command reads, only the app
        user's where app.user is set), in this run's private folder on this host; its path
        (journaled, removed when the run closes)."""
        return self.executor.private_file(self.spec, name, content, app)

    def describe_failure(self, result: CommandResult) -> str:
        """A failed command in one line: what ran, why, and the tool's own first and last words."""
        return self.executor.describe_failure(result)

    def acting_for(self, paso: str) -> AbstractContextManager[None]:
        """The commands of this block are journaled under `paso` (the tool's own work)."""
        return self.executor.acting_for(paso)

    def pgpass(self, password: str) -> dict[str, str]:
        """The environment giving PostgreSQL's clients on this host the password: a private
        pgpass file, never the password itself."""
        return self.executor.pgpass(self.spec, password)
