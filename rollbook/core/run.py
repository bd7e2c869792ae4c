"""The incident: options, environment, journal, executor and the facts recorded so far."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rollbook.core import inventory
from rollbook.core.config import Environment, secret
from rollbook.core.errors import UserError
from rollbook.core.executor import Executor, Mode
from rollbook.core.host import Host
from rollbook.core.journal import Journal
from rollbook.core.operations import CHANGES, Change
from rollbook.core.redact import Redactor
from rollbook.core.resources import PostgresClient
from rollbook.core.state import PerHost, Record

SEVERITIES = ("CRITICO", "ALTO", "MEDIO")
_SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
R = TypeVar("R", bound=Record)
C = TypeVar("C", bound=Change)
P = TypeVar("P", bound=PerHost)
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/+-]{1,4096}$")


@dataclass(frozen=True)
class RunOptions:
    env_name: str
    report_dir: Path
    operator: str
    target_tag: str | None = None
    backup: str | None = None
    reason: str | None = None
    severity: str | None = None
    impact: str | None = None
    approved_by: str | None = None
    approval: Path | None = None  # a signed approval statement (record/approval.py)
    signing_key: str | None = None  # the operator's own key: the record is signed by them
    watch: float | None = None  # seconds of §8.2's extended watch (validation.feature)
    dry_run: bool = False
    auto_recover: bool = True
    incident: str | None = None
    users_affected: float | None = None
    confirm: str | None = None
    record_release: bool = False  # validation.feature: the deployed release → ledger, validated
    force_target: bool = False  # --target-tag may name a release the ledger marks failed


def default_operator() -> str:
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        name = ""
    return name or os.environ.get("USER") or getpass.getuser()


def validate_options(options: RunOptions) -> None:
    """Refuse malformed input before anything runs (one line, nothing changed)."""
    if options.target_tag is not None and not _SAFE_REF.match(options.target_tag):
        raise UserError(
            f"--target-tag {options.target_tag!r} is not a valid tag name: use letters, digits "
            "and . _ / - only (e.g. staging-deploy-20251117-1430)"
        )
    if options.backup is not None and not _SAFE_PATH.match(options.backup):
        raise UserError(
            f"--backup {options.backup!r} is not a valid path: use letters, digits and . _ / + - "
            "only (e.g. /backups/iact_staging_20251117_1430.sql)"
        )
    if options.severity is not None and options.severity not in SEVERITIES:
        raise UserError(f"--severity {options.severity!r}: choose one of {', '.join(SEVERITIES)}")


def new_incident_dir(report_dir: Path, env_name: str, when: datetime) -> tuple[str, Path]:
    """YYYY-MM-DD-HHMM-<env>, made unique with -2, -3 … when two runs start in the same minute."""
    report_dir.mkdir(parents=True, exist_ok=True)
    base = f"{when:%Y-%m-%d-%H%M}-{env_name}"
    for n in range(1, 1000):
        incident = base if n == 1 else f"{base}-{n}"
        try:
            (report_dir / incident).mkdir(mode=0o700)
        except FileExistsError:
            continue
        return incident, report_dir / incident
    raise UserError(f"too many incidents named {base}* in {report_dir}: clean up old reports")


class Run:
    def __init__(
        self,
        options: RunOptions,
        env: Environment,
        mode: Mode,
        progress: Callable[[str], None] = print,
        reserved: tuple[str, Path] | None = None,
    ) -> None:
        validate_options(options)
        if env.confirm and options.confirm != env.name and mode is Mode.EXECUTE:
            raise UserError(
                f"environment {env.name} needs --confirm-production={env.name}: "
                "say which environment you are about to change"
            )
        self.options = options
        self.env = env
        self._hosts = {role: inventory.expand(role, specs) for role, specs in env.hosts.items()}
        self.redactor = Redactor()
        self.db_password = secret(env, env.database.password_env)
        self.redactor.add(self.db_password)
        app_secrets = {name: secret(env, source) for name, source in env.app.secret_env.items()}
        for value in app_secrets.values():
            self.redactor.add(value)
        self.started = datetime.now(UTC)
        self.incident_id, self.folder = reserved or new_incident_dir(
            options.report_dir, env.name, self.started
        )
        for target in env.notify:  # notification URLs carry tokens: secrets too
            self.secret_or_none(target.url_env)
        self.journal = Journal(self.folder / "journal.jsonl", self.redactor)
        self._progress = progress
        self.executor = Executor(self.journal, self.redactor, mode, env.root_actions(), self.say)
        self.executor.default_timeout = env.timeouts.default
        self.executor.incident = self.incident_id
        self.executor.app_secrets = app_secrets
        self.facts: dict[str, dict[str, Any]] = {}
        self._facts_lock = threading.Lock()
        self.changes: list[Change] = []  # the operations begun, in order (rollbook.core.state)
        self.result: Any = None  # rollbook.lifecycle.outcome.Result, set when the run finishes
        self.probe: Any = None  # rollbook.record.outage_probe.OutageProbe while a rollback runs
        self.keys_before: dict[str, set[int]] | None = None  # Paso 4.1 row keys, for data loss
        # the backup's row keys (Paso 1.3's trial restore, swap's Paso 4.0), for data loss
        self.keys_restored: dict[str, set[int]] | None = None
        self.checklist = False  # validation / prerequisites: independent checks, not the procedure
        options_record = asdict(options) | {"report_dir": str(options.report_dir)}
        self.journal.write(
            "run_started",
            incident=self.incident_id,
            environment=env.name,
            environment_file=env.source,
            mode=mode.value,
            options=options_record,
        )

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

    def first_host(self, role: str) -> Host:
        """The role's first host: where a Paso reads what every host of the role shares (the
        deployed release, the database's migrations)."""
        return self.executor.host(self.hosts(role)[0])

    def keep_host(self, kind: type[P], spec: str, part: Any) -> None:
        """One host's part of a per-host record, merged in as that host's thread learns it."""
        with self._facts_lock:
            known = self.known(kind)
            self.keep(kind(dict(known.hosts if known else {}) | {spec: part}))

    def record_host(self, key: str, values: dict[str, Any], field: str) -> None:
        """One host's part of a fact (`values`), merged into `field` as that host's thread
        learns it."""
        with self._facts_lock:
            merged = dict(self.facts.get(key, {}).get(field, {})) | values
            self.record(key, **{field: merged})

    def say(self, message: str) -> None:
        """Progress the operator can follow, also kept in the journal."""
        text = self.redactor.text(message)
        self._progress(text)
        self.journal.write("message", paso=self.executor.paso, text=text)

    def not_configured(self, what: str) -> None:
        """Part of a check has nothing to look at: said and journaled, never hidden in a pass."""
        self.journal.write("not_configured", paso=self.executor.paso, setting=what)
        self.say(f"WARNING: no configurado: {what}")

    def record(self, key: str, **value: Any) -> dict[str, Any]:
        """A fact learnt or decided by a Paso (target, backup, deployed ref …)."""
        self.facts[key] = value
        self.journal.write("fact", paso=self.executor.paso, key=key, value=value)
        return value

    def keep(self, record: R) -> R:
        """A typed record a Paso learnt (rollbook.core.state), journaled as its fact."""
        self.record(record.KEY, **record.value())
        return record

    def known(self, kind: type[R]) -> R | None:
        """The typed record of `kind` recorded so far, or None."""
        return kind.read(self.facts)

    @contextmanager
    def operation(self, change: C) -> Iterator[C]:
        """A change begun: journaled with the data its undo needs before its first command, and
        as done after its last (an exception leaves it begun: §9 undoes it)."""
        fields: dict[str, Any] = {"paso": self.executor.paso, "kind": change.KEY,
                                  "data": change.value()}  # fmt: skip
        if self.planning:
            fields["planned"] = True
        with self._facts_lock:
            self.changes.append(change)
        self.journal.write("operation", **fields)
        yield change
        self.journal.write("operation_done", **fields)

    def begun(self, kind: type[C]) -> list[C]:
        """The operations of `kind` this run began, in order."""
        return [change for change in self.changes if isinstance(change, kind)]

    def adopt(self, event: dict[str, Any], incident: str) -> None:
        """A fact, intent or operation of the interrupted `incident`, carried into this run
        (--resume): journaled again, and known as if this run had learnt or begun it."""
        fields = {k: v for k, v in event.items() if k not in ("ts", "event")}
        self.journal.write(event["event"], **fields, resumed_from=incident)
        if event["event"] == "fact":
            self.facts[event["key"]] = event["value"]
        elif event["event"] == "operation" and event["kind"] in CHANGES:
            self.changes.append(CHANGES[event["kind"]].of(event["data"]))

    def need(self, kind: type[R]) -> R:
        """The typed record of `kind`, which an earlier Paso must have recorded."""
        found = self.known(kind)
        if found is None:
            raise UserError(f"internal order error: {kind.KEY!r} was not recorded yet")
        return found

    def fact(self, key: str) -> dict[str, Any]:
        try:
            return self.facts[key]
        except KeyError:
            raise UserError(f"internal order error: {key!r} was not recorded yet") from None

    def secret_or_none(self, variable: str) -> str | None:
        """A secret variable's value (registered for redaction), or None when it is not set."""
        try:
            value = secret(self.env, variable)
        except UserError:
            return None
        self.redactor.add(value)
        return value

    def postgres(self) -> PostgresClient:
        """PostgreSQL's clients on the db host (the password through a private pgpass file)."""
        return PostgresClient(self.first_host("db"), self.env.database, self.db_password)
