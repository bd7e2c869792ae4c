"""The site: the environment file's hosts, and the handles the Pasos act on them through."""

from __future__ import annotations

from contextlib import AbstractContextManager

from rollbook.core import inventory
from rollbook.core.config import Environment, secret
from rollbook.core.errors import UserError
from rollbook.core.executor import Executor, Mode
from rollbook.core.host import Host
from rollbook.core.redact import Redactor
from rollbook.core.resources import PostgresClient


class Site:
    def __init__(
        self, env: Environment, executor: Executor, redactor: Redactor, db_password: str
    ) -> None:
        self.env = env
        self.executor = executor
        self._redactor = redactor
        self._hosts = {
            role: inventory.expand(role, specs, env.app.user) for role, specs in env.hosts.items()
        }
        self._db_password = db_password

    @property
    def mode(self) -> Mode:
        return self.executor.mode

    @property
    def planning(self) -> bool:
        """A dry-run: mutating commands are planned, so their effects cannot be checked."""
        return self.executor.planning

    def hosts(self, role: str) -> list[str]:
        """The role's hosts (Ansible groups expanded); `proxy` defaults to the app hosts."""
        return list(self._hosts.get(role) or self._hosts["app"])

    def host(self, spec: str) -> Host:
        return self.executor.host(spec)

    def acting_for(self, paso: str) -> AbstractContextManager[None]:
        """The commands of this block are journaled under `paso`; the previous one put back."""
        return self.executor.acting_for(paso)

    def close_hosts(self) -> list[str]:
        """Every host's private folder of this run removed, its shared connection ended; the
        errors, one line each."""
        return self.executor.close_hosts()

    def first_host(self, role: str) -> Host:
        """The role's first host: where a Paso reads what every host of the role shares (the
        deployed release, the database's migrations)."""
        return self.executor.host(self.hosts(role)[0])

    def secret(self, variable: str) -> str:
        """A secret variable's value, registered for redaction (UserError when it is not set)."""
        value = secret(self.env, variable)
        self._redactor.add(value)
        return value

    def secret_or_none(self, variable: str) -> str | None:
        """A secret variable's value (registered for redaction), or None when it is not set."""
        try:
            return self.secret(variable)
        except UserError:
            return None

    def postgres(self) -> PostgresClient:
        """PostgreSQL's clients on the db host (the password through a private pgpass file)."""
        return PostgresClient(self.first_host("db"), self.env.database, self._db_password)
