"""The sandbox's own PostgreSQL cluster: initdb, pg_ctl, the role, the database and its template.

As root the server runs as the `postgres` user, which must be able to traverse every parent of
the cluster's folder: when it cannot reach the sandbox root (a checkout under /root, say), the
cluster goes to /var/tmp/rollbook-sandbox-<hash>/ and .sandbox/state/postgres-root records where.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rollbook.core.errors import UserError
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.shell import IS_ROOT, ensure_port_free, say

CLUSTER_OWNER = "postgres" if IS_ROOT else getpass.getuser()
PG_ROOT_RECORD = "postgres-root"
TEMPLATE = "rollbook_sandbox_start"
SETTINGS_FILE = "rollbook_sandbox.conf"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def server_bin() -> Path:
    """The newest installed server binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise UserError(
            "PostgreSQL server (initdb, pg_ctl) not found under /usr/lib/postgresql: "
            "run `make setup` (apt-get install postgresql)"
        )
    return found[-1].parent


@dataclass(frozen=True)
class Cluster:
    layout: Layout
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        return self.root / "postgresql.log"

    @property
    def port(self) -> int:
        return self.layout.ports.postgres

    def tool(
        self, name: str, *args: str | Path, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as the cluster's owner, from a folder it can enter."""
        return self.layout.shell.run(
            [server_bin() / name, *args],
            cwd=self.root,
            stdin=stdin,
            user=CLUSTER_OWNER if IS_ROOT else None,
            check=check,
        )

    def is_initialised(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def is_running(self) -> bool:
        return (
            self.is_initialised()
            and self.tool("pg_ctl", "-D", self.data, "status", check=False).returncode == 0
        )

    def sql(self, script: str) -> str:
        """Run SQL as the admin over the private unix socket (peer authentication)."""
        return self.tool(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.socket_dir,
            "-p",
            str(self.port),
            "-U",
            CLUSTER_OWNER,
            "-d",
            "postgres",
            "-f",
            "-",
            stdin=script,
        ).stdout.strip()

    def init(self) -> None:
        say(f"creating a PostgreSQL cluster in {self.data} ...")
        for folder in (self.root, self.socket_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _give_to_owner(folder)
        self.tool(
            "initdb",
            "-D",
            self.data,
            "-U",
            CLUSTER_OWNER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"\ninclude '{SETTINGS_FILE}'\n")

    def configure(self) -> None:
        """Listen on 127.0.0.1 only, socket in the cluster's private folder; who may log in."""
        settings = (
            "# Written by `rollbook sandbox` at every start.\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "# A disposable sandbox: durability is not worth the disk flushes.\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
        hba = (
            "# Written by `rollbook sandbox`: the admin over the socket, the apps over TCP.\n"
            f"local all {CLUSTER_OWNER} peer\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"  # every app role (profiles)
        )
        for name, text in ((SETTINGS_FILE, settings), ("pg_hba.conf", hba)):
            (self.data / name).write_text(text, encoding="utf-8")
            _give_to_owner(self.data / name)

    def start(self) -> None:
        ensure_port_free(self.port, "PostgreSQL", "database.port")
        say(f"starting PostgreSQL on 127.0.0.1:{self.port} ...")
        self.configure()
        self.tool("pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "start")

    def stop(self) -> None:
        say("stopping PostgreSQL ...")
        self.tool("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def reload(self) -> None:
        """Read the configuration again (a running cluster written by an older sandbox)."""
        self.configure()
        self.tool("pg_ctl", "-D", self.data, "reload")

    def ensure_role_and_database(
        self, password: str, user: str | None = None, name: str | None = None
    ) -> None:
        """The app's role (a login with this password) and its database; default the YAML's."""
        db = self.layout.env.database
        user, name = user or db.user, name or db.name
        role, database = quote_ident(user), quote_ident(name)
        self.sql(
            f"SELECT 'CREATE ROLE {role}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_roles WHERE rolname = {quote_literal(user)}) \\gexec\n"
            f"ALTER ROLE {role} WITH LOGIN CREATEDB PASSWORD {quote_literal(password)};\n"
            f"SELECT 'CREATE DATABASE {database} OWNER {role}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_database WHERE datname = {quote_literal(name)}) \\gexec\n"
        )

    def empty_database(self, name: str | None = None, owner: str | None = None) -> None:
        """The app's database, empty: provisioning builds its history from the first migration."""
        db = self.layout.env.database
        database, role = quote_ident(name or db.name), quote_ident(owner or db.user)
        self.sql(
            f"DROP DATABASE IF EXISTS {database} WITH (FORCE);\n"
            f"CREATE DATABASE {database} OWNER {role};\n"
        )

    def has_template(self, template: str = TEMPLATE) -> bool:
        found = self.sql(f"SELECT 1 FROM pg_database WHERE datname = {quote_literal(template)}")
        return found == "1"

    def save_template(self, name: str | None = None, template: str = TEMPLATE) -> None:
        """Keep the current database as the start state's template (no one may connect to it)."""
        copy, database = quote_ident(template), quote_ident(name or self.layout.env.database.name)
        self.sql(
            f"SELECT 'ALTER DATABASE {copy} IS_TEMPLATE false' FROM pg_database "
            f"WHERE datname = {quote_literal(template)} \\gexec\n"
            f"DROP DATABASE IF EXISTS {copy};\n"
            f"CREATE DATABASE {copy} TEMPLATE {database};\n"
            f"ALTER DATABASE {copy} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;\n"
        )

    def restore_from_template(
        self, name: str | None = None, owner: str | None = None, template: str = TEMPLATE
    ) -> None:
        """Replace the database with a copy of the start state (seconds, whatever its size);
        other databases of the app's role (a rollback's leftovers) go too. The shared catalogs
        the drops and the creation changed are analyzed here: left to autovacuum, their
        analyze would take a transaction id a minute later, in the middle of a test's run (Paso
        4.0's early dump is kept only where no transaction took one since)."""
        db = self.layout.env.database
        name, owner = name or db.name, owner or db.user
        database, role = quote_ident(name), quote_ident(owner)
        self.sql(
            "SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database "
            f"WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = {quote_literal(owner)})"
            " \\gexec\n"
            f"DROP DATABASE IF EXISTS {database} WITH (FORCE);\n"
            f"CREATE DATABASE {database} TEMPLATE {quote_ident(template)} OWNER {role};\n"
            "ANALYZE pg_catalog.pg_shdepend, pg_catalog.pg_database, pg_catalog.pg_authid;\n"
        )


def _give_to_owner(path: Path) -> None:
    if IS_ROOT:
        owner = pwd.getpwnam(CLUSTER_OWNER)
        os.chown(path, owner.pw_uid, owner.pw_gid)


def _refuse_foreign(folder: Path) -> None:
    """In a world-writable folder, never adopt what someone else put there (a symlink, say)."""
    if folder.is_symlink() or (
        folder.exists() and folder.stat().st_uid != pwd.getpwnam(CLUSTER_OWNER).pw_uid
    ):
        raise UserError(f"{folder} exists and is not the sandbox's cluster: remove it first")


def _record(layout: Layout) -> Path:
    return layout.state / PG_ROOT_RECORD


def existing_cluster(layout: Layout) -> Cluster | None:
    """The cluster `up` created, wherever it was put; None before the first `up`."""
    record = _record(layout)
    if not record.is_file():
        return None
    return Cluster(layout, Path(record.read_text(encoding="utf-8").strip()))


def _blocking_parent(folder: Path) -> Path | None:
    """The first folder on the way to `folder` that the cluster's owner cannot traverse."""
    for parent in (*reversed(folder.parents), folder):
        probe = subprocess.run(["runuser", "-u", CLUSTER_OWNER, "--", "test", "-x", str(parent)])
        if probe.returncode != 0:
            return parent
    return None


def provide_cluster(layout: Layout) -> Cluster:
    """The existing cluster, or where a new one goes: in the sandbox root when reachable."""
    cluster = existing_cluster(layout)
    if cluster is not None:
        return cluster
    layout.root.mkdir(parents=True, exist_ok=True)
    root = layout.root / "postgres"
    blocked = _blocking_parent(layout.root) if IS_ROOT else None
    if blocked is not None:
        digest = hashlib.sha256(str(layout.root).encode()).hexdigest()[:8]
        root = Path("/var/tmp") / f"rollbook-sandbox-{digest}"
        say(f"the {CLUSTER_OWNER} user cannot traverse {blocked}: the cluster goes to {root}")
        _refuse_foreign(root)
    layout.state.mkdir(parents=True, exist_ok=True)
    _record(layout).write_text(f"{root}\n", encoding="utf-8")
    return Cluster(layout, root)


def remove_cluster(layout: Layout) -> None:
    """Delete the cluster's folder when it lives outside the sandbox root (`down --purge`)."""
    cluster = existing_cluster(layout)
    if cluster is not None and not cluster.root.is_relative_to(layout.root):
        shutil.rmtree(cluster.root, ignore_errors=True)
