"""Small resources on a Host, where the engine needs them: the app's git checkout, its virtualenv
(pip, manage.py) and the PostgreSQL client. Each runs its commands through the host's journaled
`run`, so what ran, where and under which Paso is recorded the same way for all of them."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rollbook.core.command import CommandResult
from rollbook.core.config import AppConfig, DatabaseConfig
from rollbook.core.host import Host

INSTALLED = (Path(__file__).parent / "installed.py").read_text()


@dataclass(frozen=True)
class Checkout:
    """The app's git checkout (`app.path`) on a host."""

    host: Host
    path: str

    def git(self, *args: str, mutating: bool = False, check: bool = True) -> str:
        """git's standard output, stripped; "" when the command failed and `check` is off."""
        result = self.host.run(
            ["git", "-C", self.path, *args], mutating=mutating, check=check, app=True
        )
        return result.stdout.strip() if result.ok else ""

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def tag_commit(self, tag: str) -> str:
        return self.git("rev-parse", f"refs/tags/{tag}^{{commit}}")


@dataclass(frozen=True)
class Venv:
    """The app's virtualenv (`app.venv`) on a host, its tools run from the app's folder.
    `copied`: a copy whose scripts still name the venv it was copied from (Paso 3.4's), so pip
    runs as its Python's module, never through bin/pip."""

    host: Host
    app: AppConfig
    copied: bool = False

    def tool(self, name: str) -> str:
        return f"{self.app.venv}/bin/{name}"

    def pip_argv(self) -> list[str]:
        return [self.tool("python"), "-m", "pip"] if self.copied else [self.tool("pip")]

    def freeze(self) -> list[str]:
        """The complete package set: `pip freeze --all` (plain freeze leaves out pip,
        setuptools and wheel, and a runtime `import pkg_resources` depends on setuptools).
        Read by core/installed.py with the venv's Python where its lines are pip's own (a
        tenth of pip's CPU, asked about six times a rollback); by pip itself anywhere else."""
        listed = self.host.run(
            [self.tool("python"), "-c", INSTALLED], mutating=False, check=False, app=True
        )
        if not listed.ok:
            listed = self.host.run([*self.pip_argv(), "freeze", "--all"], mutating=False, app=True)
        return parse_freeze(listed.stdout)

    def pip(
        self, *args: str, mutating: bool, timeout: float | None = None, check: bool = True
    ) -> CommandResult:
        argv = [*self.pip_argv(), *args]
        return self.host.run(
            argv, mutating=mutating, cwd=self.app.path, timeout=timeout, check=check, app=True
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        mutating: bool,
        check: bool = True,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        declared: bool = False,
    ) -> CommandResult:
        """An app command: in the app's folder, with the app's environment — its env file on the
        host (`app.env_file`), its secret variables (a private file), then `app.env` and `env`.
        `declared`: a write the run announced (Host.run)."""
        files = [posixpath.join(self.app.path, self.app.env_file)] if self.app.env_file else []
        secrets = self.host.app_secrets
        if secrets:
            files.append(self.host.secret_env_file(secrets, "app.env", app=True))
        return self.host.run(
            argv,
            mutating=mutating,
            check=check,
            timeout=timeout,
            cwd=self.app.path,
            env={**self.app.env, **(env or {})},
            env_files=files,
            app=True,
            declared=declared,
        )

    def command(self, argv: Sequence[str]) -> list[str]:
        """A configured app command as it runs: a first word `manage` is the venv's
        `python manage.py` (static steps, workers' readiness and round-trip commands)."""
        if argv and argv[0] == "manage":
            return [self.tool("python"), self.app.manage, *argv[1:]]
        return list(argv)

    def manage(self, *args: str, mutating: bool, timeout: float | None = None) -> CommandResult:
        """python manage.py ARGS, as an app command."""
        return self.run(
            [self.tool("python"), self.app.manage, *args], mutating=mutating, timeout=timeout
        )


def digest(lines: list[str]) -> str:
    """sha256 of a listing (a venv's package set …), to tell later whether it is unchanged."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def parse_freeze(out: str) -> list[str]:
    return sorted(line for line in out.splitlines() if line and not line.startswith("#"))


@dataclass(frozen=True)
class PostgresClient:
    """psql, pg_dump, pg_restore, createdb, dropdb on the database's client host: connection
    options from `database:`, the password through a private pgpass file on that host."""

    host: Host
    database: DatabaseConfig
    password: str

    def connection(self) -> list[str]:
        return self.database.client_args()

    def run(
        self,
        tool: str,
        *args: str,
        mutating: bool,
        timeout: float | None = None,
        check: bool = True,
        declared: bool = False,
        before: Sequence[str] = (),
    ) -> CommandResult:
        """TOOL [BEFORE…] <connection options> ARGS (`before`: the tool's own options)."""
        argv = [tool, *before, *self.connection(), *args]
        return self.host.run(
            argv,
            mutating=mutating,
            env=self.host.pgpass(self.password),
            timeout=timeout,
            check=check,
            declared=declared,
        )
