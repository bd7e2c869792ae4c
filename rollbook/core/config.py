"""Environment files (environments/*.yaml): schema, validation and loading.

Every host, path, name, port, budget and secret-variable name of a site lives in its environment
file; the engine reads nothing about a site from anywhere else. Relative paths are resolved against
the folder of the environment file (useful for local:// hosts such as the sandbox).
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from rollbook.core.errors import UserError

ENVIRONMENTS_DIR = Path(__file__).resolve().parents[2] / "environments"


def environments_dir() -> Path:
    """environments/ of this checkout, or the folder named by $ROLLBOOK_ENVIRONMENTS."""
    return Path(os.environ.get("ROLLBOOK_ENVIRONMENTS") or ENVIRONMENTS_DIR)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """'24h', '120s', '5m', 3 → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 24h")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like 30s, 5m, 24h, got {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _variable_names(values: dict[str, str]) -> dict[str, str]:
    """An environment's variables: each key a variable name, never an option of `env`."""
    for key in values:
        if not _VARIABLE.fullmatch(key):
            raise ValueError(f"{key!r} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
    return values


Variables = Annotated[dict[str, str], AfterValidator(_variable_names)]


class AppConfig(_Strict):
    path: str  # the app's git checkout on each app host (Paso 3.1 checks out the target here)
    venv: str  # the app's virtualenv on each app host (Paso 3.2 installs into it)
    requirements: str = "requirements.txt"  # Paso 3.2's requirements file, relative to `path`
    manage: str = "manage.py"  # manage.py, relative to `path` (migrations, collectstatic, shell)
    # variables every app command gets (DJANGO_SETTINGS_MODULE …); no secrets
    env: Variables = Field(default_factory=dict)
    # on each app host, KEY=VALUE lines every app command gets (systemd's EnvironmentFile=, a
    # dotenv); relative to `path`. Read there, never copied
    env_file: str | None = None
    # app variable → the operator's secret variable holding its value (DATABASE_URL with its
    # password …): delivered to the hosts in a private file, never on a command line
    secret_env: Variables = Field(default_factory=dict)
    static_root: str = "staticfiles"  # Paso 3.3's static files folder, relative to `path`
    # Paso 3.3, in order, in the app's folder with its env; `manage` is the venv's manage.py
    # (e.g. then [manage, compress], [manage, compilemessages], [npm, run, build])
    static_steps: list[Annotated[list[str], Field(min_length=1)]] = Field(
        default_factory=lambda: [["manage", "collectstatic", "--noinput"]]
    )
    tags: str  # Paso 1.2: the deploy tags' glob; the target is the last stable one
    # Paso 3.2 checks each is installed at the target's version
    critical_packages: list[str] = Field(default_factory=list)
    # extra options of every pip install (an index, --find-links …)
    pip_options: list[str] = Field(default_factory=list)
    ledger: str | None = None  # the release ledger; default <path>/../.rollbook/ledger.jsonl
    # Paso 3.2: `new_venv` copies `venv` beside it before the stop (Paso 3.4), installs there
    # what differs from the target and reinstalls any package whose files differ from its
    # wheel's RECORD; Paso 3.2 renames it into place (the old one kept beside it, §9 renames it
    # back); a host where it cannot (app.venv a symbolic link, its folder not
    # writable by the app user or without free space for a second venv, local code in the
    # target's requirements) is said and reinstalled in place; `always` is the procedure's
    # --force-reinstall in place; `when_needed` asks pip first (--dry-run) and skips the install
    # when the venv already satisfies the target exactly
    force_reinstall: Literal["always", "when_needed", "new_venv"] = "new_venv"
    # the app's own user on the app hosts (owner of `path` and `venv`): every app command (git,
    # pip, manage.py, static steps, the app's checks) runs as it — through `runuser` when
    # rollbook logs in as root, `sudo -n -u USER` otherwise; none: as the login user
    user: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_.-]*\$?$")


class ReadyCheck(_Strict):
    """How Pasos 5.2 / 6.3 and §8.1 tell that a worker works, beyond its manager's "running"."""

    log: str | None = None  # a line of its own log since its start matches this regex
    # exits 0, run in the app's folder with its env; `manage` is the venv's manage.py
    command: list[str] = Field(default_factory=list)
    # sends a real job through the worker's queue and exits 0 once a worker ran it (its last
    # output line is the answer), run like `command`: Paso 5.2, §8.2 and §9's checks
    # (e.g. [manage, rq_roundtrip])
    roundtrip: list[str] = Field(default_factory=list)


class ServicesConfig(_Strict):
    manager: Literal["systemd", "supervisor"]
    app: list[str]  # Pasos 2.2 / 5.1: the app's services, stopped and started in this order
    workers: list[str] = Field(default_factory=list)  # of `app`: started in Paso 5.2, not 5.1
    # per worker: its own readiness check; without one, celery's (inspect, or its "ready." log
    # line when the broker has no remote control) when `celery` is set, else its process
    ready: dict[str, ReadyCheck] = Field(default_factory=dict)
    proxy: str | None = None  # the proxy service Pasos 2.3 / 5.3 reload (nginx)
    # tests the proxy's configuration before Pasos 2.3 / 5.3 reload it (e.g. `nginx -t -q`):
    # a reload with a broken file is ignored by nginx, silently; this fails the Paso instead
    proxy_check: list[str] = Field(default_factory=list)
    supervisor_conf: str | None = None  # supervisor's configuration file (manager: supervisor)
    supervisorctl: str = "supervisorctl"  # the supervisorctl program (manager: supervisor)
    stop_timeout: Duration = 30.0  # Paso 2.2: how long the services may take to stop
    start_timeout: Duration = 60.0  # Pasos 5.1 / 5.2: how long a service may take to be ready
    # Paso 5.1 on several app hosts: `all` starts every host at once; `rolling` one host at a time,
    # the next only after this one's health URL answers 200 (behind a balancer)
    restart: Literal["all", "rolling"] = "all"


class MaintenanceConfig(_Strict):
    template: str  # Paso 2.3: the maintenance page's source on each proxy host
    page: str  # Paso 2.3: where it is put while the site is down


class DatabaseConfig(_Strict):
    host: str  # PostgreSQL's host, as the db host's clients reach it
    port: int = 5432  # PostgreSQL's port
    name: str  # the app's database (Etapa 4 restores it)
    user: str  # the user rollbook's clients connect as
    password_env: str  # the secret variable holding that user's password
    backups: str  # Paso 1.3's backups folder on the db host (Paso 4.1's dump goes here)
    backup_pattern: str  # Paso 1.3: the nightly backups' file glob in `backups`
    max_backup_age: Duration = 86400.0  # Paso 1.3: a chosen backup older than this is refused
    marker_table: str | None = "django_migrations"  # a backup of this database holds this table
    # Etapa 4: `recreate` is the procedure's dropdb/createdb/restore, all inside the downtime;
    # `swap` restores into a shadow database before Etapa 2 and renames it in (issue 7); unnamed,
    # a recovery (Paso 4.5) swaps where the app's role owns the database (database_path.py)
    restore_strategy: Literal["recreate", "swap"] = "recreate"
    # the way back (actions/database/database_path.py): `least_loss` (the default, §7.1's 0 data
    # loss): migrate where it loses nothing, else restore_recover; `restore` the backup as the
    # procedure is written (the rows written since it are lost, and counted); `restore_recover`:
    # restore, then put back the rows it dropped (Paso 4.5); `migrate`: reverse the migrations,
    # keeping every row (refused when that loses older data)
    rollback: Literal["restore", "restore_recover", "migrate", "least_loss"] = "least_loss"
    restore_jobs: int | None = Field(default=None, ge=1)  # pg_restore -j; default the host's cores
    # Paso 1.3: restore the chosen backup into a scratch database (then dropped), predict Etapa 4
    verify_by_restore: bool = False
    # §7.1: tables whose lost rows are not user data (sessions, caches): listed apart, not counted
    ignore_tables: list[str] = Field(default_factory=list)
    # the record names a lost row by this column's value (table → column) instead of asking the
    # app for its model's __str__
    label_columns: dict[str, str] = Field(default_factory=dict)

    def client_args(self) -> list[str]:
        """How PostgreSQL's clients reach it: host, port and user (the password never here)."""
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]


class HealthConfig(_Strict):
    url: str  # asked on every app host (curl there)
    unix_socket: str | None = None  # the url is asked through this socket (gunicorn's bind)
    # §8.2 latency and Paso 6.2: the main API URLs
    endpoints: list[str] = Field(default_factory=list)
    smoke_tests: str | None = None  # a path (or pytest node id) in the app
    # auto: the app's venv when it has pytest, else rollbook's own pytest on the operator's side
    # (the tests copied from the app host); app / operator force one
    smoke_runner: Literal["auto", "app", "operator"] = "auto"
    smoke_command: list[str] = Field(default_factory=list)  # instead: an app command, exit 0
    smoke_env: Variables = Field(default_factory=dict)  # variables the smoke tests get
    critical: dict[str, str] = Field(default_factory=dict)  # Paso 6.3: function → URL
    latency_budget_ms: int = 500  # §8.2: the p95 latency each endpoint must stay under
    latency_requests: int = Field(default=20, ge=1)  # §8.2: requests per endpoint
    timeout: Duration = 10.0  # each health / endpoint request's bound


class CeleryConfig(_Strict):
    app: str  # celery's -A app (Pasos 5.2 / 6.3 and §8.2 ask its workers)
    # §8.2: the task sent and awaited from a process with the app's settings loaded; default
    # celery's own `celery.accumulate` (every worker has it; needs a result backend)
    roundtrip_task: str | None = None
    # each app host's worker, as celery names it (`-n`); %h is that host's hostname
    node: str = "celery@%h"


class LogsConfig(_Strict):
    # §8.1 / §8.2 / Paso 5.1: the app's log files read for errors
    files: list[str] = Field(default_factory=list)
    error_pattern: str = "ERROR|CRITICAL|Traceback"
    watch: Duration = 120.0  # Paso 6.4 / §8.2: log window (a rollback's opens at Paso 5.1's start)
    recent: Duration = 300.0  # §8.1: "sin errores en logs (últimos 5 min)"
    copy_to: str | None = None  # Paso 7: where rollback.log is copied on the operator's side


class Thresholds(_Strict):
    """§8.2: monitoring figures a validation run records and checks."""

    load_per_core: float = 2.0  # §8.2: the 1-minute load per core at most
    memory_used_pct: float = 90.0  # §8.2: memory used at most, %
    db_connections_pct: float = 80.0  # §8.2: database connections used at most, % of max


class NotifyTarget(_Strict):
    url_env: str  # the secret variable holding an apprise URL of the channel


class SigningConfig(_Strict):
    key: str  # the SSH private key the record is signed with (Paso 7)
    identity: str  # the signer's principal in allowed_signers
    namespace: str = "rollbook"  # ssh-keygen -Y's namespace
    allowed_signers: str | None = None  # the auditors' trusted keys, for `rollbook verify`


Role = Literal[
    "incident_manager",
    "tech_lead",
    "dba",
    "devops",
    "developer",
    "product_owner",
    "cto",
    "on_call",
]


class Person(_Strict):
    """Someone of §3's matrix: their roles, how to reach them and, where they sign (approvals,
    sign-offs), their SSH public key (`public_key`: a .pub file)."""

    name: str  # as --approved-by and the record name them
    identity: str  # their principal in allowed_signers, e.g. their e-mail
    roles: list[Role] = Field(min_length=1)
    contact: str | None = None  # how to reach them, for the record
    notify_env: str | None = None  # the variable holding their own notification URL
    public_key: str | None = None  # their SSH public key (.pub): their approvals and sign-offs


class SandboxConfig(_Strict):
    """Provisioning parameters used only by `rollbook sandbox`; the engine never reads them."""

    redis_port: int  # the sandbox's broker port
    notify_port: int | None = None  # the sandbox's incidents channel (an HTTP receiver)
    seed_rows: int = 200  # rows the sandbox's database starts with
    fleet_ssh_port: int = 22201  # `sandbox up --app-hosts N`: app host i listens on this + i - 1
    systemd_ssh_port: int = 22290  # `sandbox up --systemd`: the systemd host's sshd


class Timeouts(_Strict):
    """Bound of every remote command, by kind of action; a command over it fails its Paso."""

    default: Duration = 600.0  # any other command
    install: Duration = 1800.0  # pip
    dump: Duration = 3600.0  # pg_dump (Paso 4.1)
    restore: Duration = 3600.0  # psql / pg_restore (Paso 4.3)
    stall: Duration = 120.0  # a restore or dump whose file stops moving this long is said


RootAction = Literal["services", "maintenance", "proxy_check", "logs"]


class SudoConfig(_Strict):
    """The actions that need root on the hosts; each of their commands runs under `sudo -n`."""

    root: list[RootAction] = Field(
        default_factory=lambda: ["services", "maintenance", "proxy_check"]
    )


class Environment(_Strict):
    name: str  # the environment's name: `--env=NAME` reads environments/NAME.yaml
    # Paso 1.1: `required` refuses a run without an approver (and with a check left empty)
    approval: Literal["required", "optional"]
    confirm: bool = False  # a run must say --confirm-production=<name> (production)
    # the operator's KEY=VALUE file of secret variables (password_env, notify URLs …)
    env_file: str | None = None
    # testinfra host specs per role; `proxy` (maintenance page, proxy reload) defaults to `app`
    hosts: dict[Literal["app", "db", "proxy"], list[str]]
    parallel_hosts: int = Field(default=10, ge=1)  # hosts of a role a Paso acts on at once
    # root actions through `sudo -n` (true: services, maintenance, proxy_check); everything else
    # runs as the login user, the deploy user
    sudo: bool | SudoConfig = False
    app: AppConfig  # the application: where it lives on the app hosts and how it is built
    services: ServicesConfig  # the app's services and their manager (Etapas 2 and 5)
    maintenance: MaintenanceConfig | None = None  # Paso 2.3's maintenance page (none: no page)
    database: DatabaseConfig  # the app's PostgreSQL database and its backups (Etapas 1 and 4)
    health: HealthConfig  # what tells the app works (Pasos 5.1, 6.x, §8)
    celery: CeleryConfig | None = None  # the app's workers are celery's (none: not celery)
    logs: LogsConfig = Field(default_factory=LogsConfig)  # the app's logs (§8, Paso 5.1)
    # §7.1: seconds each Etapa may take (etapa1 … etapa7), said when over
    budgets: dict[str, Duration] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    # §6's incidents channels: Pasos 1.4 and 7.2 post there
    notify: list[NotifyTarget] = Field(default_factory=list)
    signing: SigningConfig | None = None  # Paso 7: the record's SSH signature (none: unsigned)
    # Paso 7.1 / §6.1: the team's folder of incident reports (docs/backend/incidents/), where the
    # signed ROLLBACK-*.md is copied at the end of the run (none: it stays in the run's folder)
    incidents: str | None = None
    # §3's people: approvers, sign-offs, who is told
    people: list[Person] = Field(default_factory=list)
    approvers: list[Role] = Field(default_factory=lambda: ["tech_lead", "incident_manager"])
    # §3.1 "Validar rollback" (Tech Lead A) and "Documentar incidente" (Tech Lead R, IM A)
    sign_offs: list[Role] = Field(default_factory=lambda: ["tech_lead", "incident_manager"])
    approval_valid_for: Duration = 4 * 3600.0  # a signed approval older than this is refused
    # §7.3 "Programar post-mortem": the document sets no date; the environment does
    post_mortem_within: Duration = 5 * 86400.0
    # §14 of the written procedure: `required` refuses a run while a row of its approvals has no
    # signature or date; `warn` says so in every run and record (as a past review date)
    procedure_approvals: Literal["warn", "required"] = "warn"
    sandbox: SandboxConfig | None = None
    source: str = Field(default="", exclude=True)

    def root_actions(self) -> frozenset[str]:
        """The actions run under sudo (none without `sudo`)."""
        if self.sudo is True:
            return frozenset(SudoConfig().root)
        return frozenset(self.sudo.root) if self.sudo else frozenset()

    def unconfigured_checks(self) -> list[str]:
        """The settings left empty whose criteria would then have nothing to check."""
        health = self.health
        empty = {
            "health.smoke_tests (or health.smoke_command)": health.smoke_tests
            or health.smoke_command,
            "health.endpoints": health.endpoints,
            "health.critical": health.critical,
            "logs.files": self.logs.files,
            "notify": self.notify,
            "app.critical_packages": self.app.critical_packages,
        }
        return [name for name, value in empty.items() if not value]

    def ledger_file(self) -> str:
        """The release ledger on the app hosts: app.ledger, or beside the app in .rollbook/."""
        beside = posixpath.dirname(self.app.path.rstrip("/"))
        return self.app.ledger or posixpath.join(beside, ".rollbook", "ledger.jsonl")

    def app_file(self, relative: str) -> str:
        """A path inside the deployed app (requirements, manage.py, static root, smoke tests)."""
        return str(Path(self.app.path) / relative)


# Paths resolved against the environment file's folder when relative.
_PATH_KEYS = (
    ("env_file",),
    ("app", "path"),
    ("app", "venv"),
    ("app", "ledger"),
    ("services", "supervisor_conf"),
    ("services", "supervisorctl"),
    ("health", "unix_socket"),
    ("maintenance", "template"),
    ("maintenance", "page"),
    ("database", "backups"),
    ("logs", "copy_to"),
    ("incidents",),
    ("signing", "key"),
    ("signing", "allowed_signers"),
)


def available_environments() -> list[str]:
    return sorted(p.stem for p in environments_dir().glob("*.yaml"))


def _unknown_environment(name: str) -> UserError:
    names = ", ".join(available_environments()) or "(none)"
    return UserError(
        f"unknown environment {name!r}: choose one of {names} (files in {environments_dir()}/)"
    )


def _resolve(base: Path, value: str) -> str:
    if "/" not in value:  # a bare command or file name is looked up where it is used
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    for keys in _PATH_KEYS:
        node: Any = data
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            node[keys[-1]] = _resolve(base, node[keys[-1]])
    hosts = data.get("hosts")
    if isinstance(hosts, dict):
        for role, specs in hosts.items():
            if isinstance(specs, list):
                hosts[role] = [_resolve_spec(base, s) if isinstance(s, str) else s for s in specs]
    for person in data.get("people") or []:
        if isinstance(person, dict) and isinstance(person.get("public_key"), str):
            person["public_key"] = _resolve(base, person["public_key"])
    for section, key in (("logs", "files"), ("services", "proxy_check")):
        node = data.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), list):
            node[key] = [_resolve(base, v) if _is_path(v) else v for v in node[key]]


# files a host spec names in its query; `inventory` is testinfra's `ansible_inventory`
_SPEC_FILES = {
    "ssh_config": "ssh_config",
    "ssh_identity_file": "ssh_identity_file",
    "inventory": "ansible_inventory",
    "ansible_inventory": "ansible_inventory",
}


def _resolve_spec(base: Path, spec: str) -> str:
    head, sep, query = spec.partition("?")
    if not sep:
        return spec
    pairs = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _SPEC_FILES:
            path = Path(value).expanduser()
            key, value = (
                _SPEC_FILES[key],
                str(path if path.is_absolute() else (base / path).resolve()),
            )
        pairs.append((key, value))
    return f"{head}?{urlencode(pairs, safe='/:~@')}"


def _is_path(value: object) -> bool:
    return isinstance(value, str) and not value.startswith("-")


# the names pydantic puts in an error's location for the member of a union it tried
_UNION_MEMBER = re.compile(r"^(bool|str|int|float|none|(list|dict|literal|function-\w+)\[.*\])$")


def _key(location: tuple[Any, ...]) -> str:
    """The key as the file writes it: the union members pydantic tried (SudoConfig, bool …)
    are the schema's, not the file's."""
    models = {model.__name__ for model in _Strict.__subclasses__()}

    def members(part: Any) -> bool:
        return isinstance(part, str) and (part in models or bool(_UNION_MEMBER.match(part)))

    return ".".join(str(part) for part in location if not members(part)) or "(top level)"


def describe_errors(errors: list[Any]) -> str:
    """The file's mistakes, once each: where a key could be a value or a mapping and the file
    gave a mapping, what is wrong inside it (not that it is no value)."""
    keyed = [(_key(tuple(error["loc"])), error) for error in errors]
    keys = {key for key, _ in keyed}
    inner = [
        (key, error)
        for key, error in keyed
        if not any(other.startswith(f"{key}.") for other in keys)
    ]
    return "; ".join(dict.fromkeys(_describe(key, error) for key, error in inner))


def _describe(key: str, error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"key {key!r} is missing"
    if kind == "extra_forbidden":
        return f"key {key!r} is not a known key (remove it or check its spelling)"
    return f"key {key!r}: {error['msg']}, got {error.get('input')!r}"


# libyaml's safe loader where PyYAML was built with it (about ten times faster: the sandbox and
# the engine read environment files dozens of times a run), else the pure-Python one
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's keys, paths resolved against its folder, merged over the file it `extends`."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the environment file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}: not valid YAML{where}: fix the file's syntax") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level")
    _resolve_paths(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"{path}: key 'extends' names another environment file (e.g. sandbox.yaml)")
    parent_path = (path.parent / parent).resolve()
    if parent_path in (*seen, path.resolve()):
        raise UserError(f"{path}: key 'extends' loops back to {parent_path}: break the cycle")
    if not parent_path.is_file():
        raise UserError(f"{path}: key 'extends': there is no file {parent_path}")
    return _merged(_read(parent_path, (*seen, path.resolve())), data)


def extended_files(path: Path) -> list[Path]:
    """The environment files `path` extends, nearest first (what its values also come from)."""
    chain: list[Path] = []
    current = path
    while True:
        try:
            data = yaml.load(current.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        except (OSError, yaml.YAMLError):
            return chain  # loading the environment already said what is wrong with it
        parent = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(parent, str):
            return chain
        current = (current.parent / parent).resolve()
        if current in chain or current == path.resolve():
            return chain
        chain.append(current)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings key by key, anything else replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_file(path: Path) -> Environment:
    data = _read(path)
    try:
        env = Environment.model_validate(data)
    except ValidationError as exc:
        details = describe_errors(list(exc.errors()))
        raise UserError(f"{path}: {details}") from None
    if env.name != path.stem:
        raise UserError(
            f"{path}: key 'name' is {env.name!r}, expected {path.stem!r} (the file name)"
        )
    unknown = sorted(set(env.services.ready) - set(env.services.workers))
    if unknown:
        raise UserError(
            f"{path}: key 'services.ready' names {', '.join(unknown)}, not in services.workers: "
            "list the worker there or remove its check"
        )
    for name, check in env.services.ready.items():
        if bool(check.log) == bool(check.command):
            raise UserError(f"{path}: key 'services.ready.{name}': give one of log, command")
        if check.log:
            try:
                re.compile(check.log)
            except re.error as exc:
                raise UserError(
                    f"{path}: key 'services.ready.{name}.log' is not a regular expression: {exc}"
                ) from None
    for field in ("name", "identity"):
        seen = [getattr(person, field) for person in env.people]
        twice = sorted({value for value in seen if seen.count(value) > 1})
        if twice:
            raise UserError(f"{path}: key 'people': {field} {twice[0]!r} is given twice")
    for role in ("app", "db"):
        if not env.hosts.get(role):
            raise UserError(f"{path}: key 'hosts.{role}' needs at least one host spec")
    for role, specs in env.hosts.items():
        for spec in specs:
            if "://" not in spec:
                raise UserError(
                    f"{path}: key 'hosts.{role}': {spec!r} is not a host spec: write "
                    "local://, ssh://user@host:port or ansible://GROUP?inventory=FILE"
                )
    return env.model_copy(update={"source": str(path)})


def load_environment(name: str) -> Environment:
    if not name or "/" in name or name.startswith("."):
        raise _unknown_environment(name)
    path = environments_dir() / f"{name}.yaml"
    if not path.is_file():
        raise _unknown_environment(name)
    return load_file(path)


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments. Missing file → {}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def secret(env: Environment, variable: str) -> str:
    """The value of a secret variable: the process environment first, then the env_file."""
    value = os.environ.get(variable)
    if value is None and env.env_file:
        value = read_env_file(env.env_file).get(variable)
    if not value:
        hint = f" or in {env.env_file}" if env.env_file else ""
        raise UserError(f"the secret variable {variable} is not set: export it{hint}")
    return value
