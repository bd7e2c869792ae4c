"""One host the run acts on, as the Pasos and their adapters see it (in the spirit of
pytest-testinfra's `host`): the one place where commands run. Each is an argument list, quoted
into one /bin/sh line with its wrappers (cd, env, timeout, sudo -n for the root actions the
environment lists), journaled under the Paso acting by the run's policy (core/executor.py) and
sent through the host's transport (core/transports.py), bounded, secret-free. Adapters take a
Host (or a role's Hosts), never the whole run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from rollbook.core.command import Command, CommandResult, Policy
from rollbook.core.inventory import label


@dataclass(frozen=True)
class Host:
    spec: str  # local://, ssh://user@h:port?…, ansible://name?… (testinfra's host specs)
    policy: Policy  # the run's (core/executor.py)

    @property
    def name(self) -> str:
        """The host as people name it (user@address, without connection options)."""
        return label(self.spec)

    @property
    def planning(self) -> bool:
        """A dry-run: mutating commands are planned, so their effects cannot be checked."""
        return self.policy.planning

    @property
    def app_secrets(self) -> dict[str, str]:
        """The app's secret variables (app.secret_env, resolved): an app command gets them as
        a private file."""
        return self.policy.app_secrets

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
        command = Command(
            [str(a) for a in argv],
            mutating,
            cwd=cwd,
            env=dict(env or {}),
            env_files=tuple(env_files),
            timeout=timeout,
            check=check,
            declared=declared,
            root=root,
            app=app,
        )
        return self.policy.execute(self.spec, command)

    def probe(self, line: str) -> str:
        """What a shell line printed here, unjournaled: the reads a progress line polls each
        second (a size, a count), never a change and never evidence of the record."""
        return self.policy.probe(self.spec, line, 15).stdout

    def tell(self, text: str, progress: Mapping[str, object] | None = None) -> None:
        """Say `text` on the operator's terminal; with `progress`, journal it too as the
        progress of the Paso acting on this host."""
        self.policy.tell(text, {"host": self.spec, **progress} if progress else None)

    def secret_env_file(self, values: Mapping[str, str], name: str, app: bool = False) -> str:
        """A private file of this run on this host holding KEY=VALUE lines (secret values a
        command reads through `env_files`; `app`: an app command's); its path."""
        lines = "".join(f"{k}={v}\n" for k, v in values.items())
        return self.private_file(name, lines, app)

    def private_file(self, name: str, content: str, app: bool = False) -> str:
        """A file only the login user reads (`app`: the file an app command reads, only the app
        user's where app.user is set), in this run's private folder on this host; its path
        (journaled, removed when the run closes)."""
        return self.policy.private_file(self.spec, name, content, app)

    def describe_failure(self, result: CommandResult) -> str:
        """A failed command in one line: what ran, why, and the tool's own first and last words."""
        return self.policy.describe_failure(result)

    def acting_for(self, paso: str) -> AbstractContextManager[None]:
        """The commands of this block are journaled under `paso` (the tool's own work)."""
        return self.policy.acting_for(paso)

    def pgpass(self, password: str) -> dict[str, str]:
        """The environment giving PostgreSQL's clients on this host the password: a private
        pgpass file (0600), never the password itself."""
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        return {"PGPASSFILE": self.private_file("pgpass", f"*:*:*:*:{escaped}\n")}
