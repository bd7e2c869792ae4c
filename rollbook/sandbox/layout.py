"""Where every file, folder and port of the sandbox is, derived from environments/sandbox.yaml."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import rollbook
from rollbook.core.config import Environment, load_environment
from rollbook.core.errors import UserError
from rollbook.sandbox import instance
from rollbook.sandbox.shell import Shell

REPO = Path(rollbook.__file__).resolve().parents[1]
APP_SOURCES = REPO / "sandbox" / "app"
# `rollbook sandbox up --profile NAME`: environments/sandbox-NAME.yaml; each profile's services
# after its gunicorn (services.app[0]): {program: the management command it runs}
PROFILES: dict[str, dict[str, tuple[str, ...]]] = {
    "wagtail": {},
    "filer": {"filer-rq": ("rqworker", "default")},
}

T = TypeVar("T")


@dataclass(frozen=True)
class Ports:
    postgres: int
    redis: int
    gunicorn: int
    nginx: int
    notify: int | None = None


@dataclass(frozen=True)
class Layout:
    """Absolute paths and ports; everything but the PostgreSQL cluster lives under `root`."""

    env: Environment
    root: Path
    ports: Ports
    secrets_file: Path
    supervisor_conf: Path
    supervisorctl: str
    maintenance_template: Path
    maintenance_page: Path
    gunicorn_log: Path
    celery_log: Path
    seed_rows: int

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def shell(self) -> Shell:
        """Runs the provisioning commands, logging them into log/provision.log."""
        return Shell(self.log / "provision.log")

    @property
    def state(self) -> Path:
        """Small files that remember facts: the cluster's location, the start-state venv."""
        return self.root / "state"

    @property
    def cache(self) -> Path:
        """What makes `reset` cheap besides the template database: the nightly dump."""
        return self.root / "cache"

    @property
    def wheelhouse(self) -> Path:
        return self.root / "wheelhouse"

    @property
    def origin(self) -> Path:
        """The bare repository the deployed checkout fetches from, named after the checkout."""
        return self.root / "git" / f"{self.app.name}.git"

    @property
    def app(self) -> Path:
        return Path(self.env.app.path)

    @property
    def venv(self) -> Path:
        return Path(self.env.app.venv)

    @property
    def app_env_file(self) -> Path:
        return self.app / ".env"

    @property
    def static_root(self) -> Path:
        return Path(self.env.app_file(self.env.app.static_root))

    @property
    def backups(self) -> Path:
        return Path(self.env.database.backups)

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def nginx_conf(self) -> Path:
        return self.etc / "nginx" / "nginx.conf"


def _port(url: str, key: str, source: str) -> int:
    port = urlparse(url).port
    if port is None:
        raise UserError(f"{source}: key {key!r} needs an explicit port, got {url!r}")
    return port


def _required(value: T | None, key: str, source: str) -> T:
    if value is None:
        raise UserError(f"{source}: key {key!r} is needed by `rollbook sandbox`")
    return value


def load_layout() -> Layout:
    env = load_environment("sandbox")
    src = env.source
    maintenance = _required(env.maintenance, "maintenance", src)
    settings = _required(env.sandbox, "sandbox", src)
    _required(env.celery, "celery", src)  # the sandbox's worker is a celery worker
    if len(env.logs.files) < 2 or not env.health.endpoints:
        raise UserError(
            f"{src}: keys 'logs.files' (gunicorn, celery) and 'health.endpoints' are needed"
        )
    return Layout(
        env=env,
        root=instance.root(instance.current()),
        ports=Ports(
            postgres=env.database.port,
            redis=settings.redis_port,
            gunicorn=_port(env.health.url, "health.url", src),
            nginx=_port(env.health.endpoints[0], "health.endpoints", src),
            notify=settings.notify_port,
        ),
        secrets_file=Path(_required(env.env_file, "env_file", src)),
        supervisor_conf=Path(
            _required(env.services.supervisor_conf, "services.supervisor_conf", src)
        ),
        supervisorctl=env.services.supervisorctl,
        maintenance_template=Path(maintenance.template),
        maintenance_page=Path(maintenance.page),
        gunicorn_log=Path(env.logs.files[0]),
        celery_log=Path(env.logs.files[1]),
        seed_rows=settings.seed_rows,
    )


def load_profile_layout(name: str) -> Layout:
    """A conformance profile of the sandbox (`rollbook sandbox up --profile NAME`): its own
    environment file environments/sandbox-NAME.yaml and files under .sandbox/NAME/; the sandbox's
    servers (its PostgreSQL cluster, its supervisord). A profile's app has one service log."""
    sandbox = load_layout()
    env = load_environment(f"sandbox-{name}")
    src = env.source
    if not env.logs.files:
        raise UserError(f"{src}: key 'logs.files' (the app server's log) is needed")
    log = Path(env.logs.files[0])
    return replace(
        sandbox,
        env=env,
        root=sandbox.root / name,
        ports=replace(sandbox.ports, gunicorn=_port(env.health.url, "health.url", src)),
        secrets_file=Path(_required(env.env_file, "env_file", src)),
        gunicorn_log=log,
        celery_log=log,
        seed_rows=0,
    )
