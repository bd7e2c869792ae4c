"""Typed records of what a run learnt: each written once by the Paso that learns it (`Run.keep`),
journaled as a `fact` under its KEY, and read back by type (`Run.known`/`Run.need`, or
`Record.read` over a journal's facts) — never by a string key spelt again elsewhere. The changes a
run begins are in rollbook.core.operations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Record:
    KEY: ClassVar[str]

    def value(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, facts: dict[str, dict[str, Any]]) -> Self | None:
        """The record among a journal's facts."""
        raw = facts.get(cls.KEY)
        return None if raw is None else cls.of(raw)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Self:
        """The record from its journaled value (keys a newer version added are left out)."""
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in raw.items() if name in known})


@dataclass(frozen=True)
class SymptomsObserved(Record):
    """Paso 1.1: what rollbook itself observed beside the declared symptoms — each URL's answer
    (`urls`, `failing`), the database, the logs' error lines (None: not read), the document's
    criteria met, what it cannot observe, and a contradiction with the declared severity."""

    KEY: ClassVar[str] = "symptoms_observed"
    urls: dict[str, int] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)
    database: str = "n/d"
    log_errors: dict[str, Any] | None = None
    criteria_met: list[str] = field(default_factory=list)
    not_observed: list[str] = field(default_factory=list)
    contradiction: str | None = None

    @property
    def first_error(self) -> str | None:
        """The running release's first error line's time (ISO), if the logs were read."""
        return (self.log_errors or {}).get("first")


@dataclass(frozen=True)
class Deployed(Record):
    """Paso 1.2: the release deployed now — the one the rollback leaves — and when it was
    deployed here (unix time) and where that time comes from."""

    KEY: ClassVar[str] = "deployed"
    tag: str | None
    commit: str
    date: int
    deployed_at: float | None = None
    deployed_at_from: str | None = None

    @property
    def name(self) -> str:
        return self.tag or self.commit[:12]


@dataclass(frozen=True)
class Target(Record):
    """Paso 1.2: the release the rollback goes back to, why it was chosen, and what the release
    ledger recorded of it (its status, package set, migrations and django_migrations rows)."""

    KEY: ClassVar[str] = "target"
    tag: str | None
    commit: str
    date: int
    reason: str
    ledger_status: str | None = None
    packages: list[str] | None = None
    migrations: list[str] | None = None
    migration_rows: list[str] | None = None

    @property
    def name(self) -> str:
        return self.tag or self.commit[:12]

    @property
    def ref(self) -> str:
        """What git checks out: the tag, or the commit of an untagged target."""
        return self.tag or self.commit


@dataclass(frozen=True)
class ChosenBackup(Record):
    """Paso 1.3: the backup the rollback restores (checked: size, format, sha256, and that it is
    a backup of this application at the target), on `host`; `refused` the newer ones set aside."""

    KEY: ClassVar[str] = "backup"
    path: str
    size: int
    mtime: float
    age: float
    format: str
    sha256: str
    host: str
    identity: str
    refused: list[str]
    over_age: str | None = None


@dataclass(frozen=True)
class AppliedMigrations(Record):
    """Paso 1.2: the migrations the database has applied, as the deployed code lists them
    (`showmigrations --plan`, in plan order), on `host`: asked with the app's settings (one
    Python start) and read by the migration plan in the same Paso, before any change."""

    KEY: ClassVar[str] = "applied_migrations"
    host: str
    applied: list[str]


@dataclass(frozen=True)
class MigrationPlan(Record):
    """Paso 1.2: the deployed release's migrations against the target's: `kind` (same,
    reversible, lossy, irreversible, restore, unknown), the migrations only the deployed release
    applied (`extra`), the reverse `migrate` commands and their (app, migration) `targets`, each
    operation's effect, the target's migrations the database lacks (`missing`), and why."""

    KEY: ClassVar[str] = "migration_plan"
    kind: str
    extra: list[str]
    commands: list[str]
    missing: list[str]
    why: str
    operations: list[dict[str, Any]]
    targets: list[Any]


Squashes = dict[str, list[str]]  # "app.squash" → the "app.name"s it replaces


@dataclass(frozen=True)
class MigrationTrees(Record):
    """Paso 1.2 (or 1.3): each release's migration files by app label, read from its tree (None:
    the release is not fetched there), and the squashed migrations with what each replaces."""

    KEY: ClassVar[str] = "migration_trees"
    migrations: dict[str, list[str] | None]
    squashed: Squashes


@dataclass(frozen=True)
class PackageMigrations(Record):
    """Paso 1.2: the migrations that live in packages (a third-party app's, Django's contrib
    apps'), by app label: the venv's now (the deployed release's), and the target's — the
    installed ones pip keeps, each package it changes read from the target version's wheel —
    the squashes among them, and the packages whose target migrations could not be read."""

    KEY: ClassVar[str] = "package_migrations"
    deployed: list[str]
    target: list[str]
    squashed: Squashes
    unread: dict[str, str]  # package==version: why


@dataclass(frozen=True)
class DatabasePath(Record):
    """Paso 1.2: how the database goes back — `path` restore or migrate — under the environment's
    `policy`, why, the values reversing drops (counted, and the keys of the first rows holding
    them), whether Paso 4.5 recovers rows, and Etapa 4's restore `strategy` (recreate or swap;
    None: the environment file's)."""

    KEY: ClassVar[str] = "database_path"
    path: str
    policy: str
    why: str
    drops: dict[str, int | None]
    recover: bool
    strategy: str | None = None
    drop_keys: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRestore(Record):
    """Paso 1.3's trial restore of the backup into the scratch `database` (dropped after): how
    long it took, its size, the marker table's rows, and the seconds it predicts for Etapa 4's
    Pasos (`predicted`: {"paso_4_3": s, …})."""

    KEY: ClassVar[str] = "trial_restore"
    database: str
    source: str
    format: str
    jobs: int
    seconds: float
    bytes: int
    marker_rows: int
    predicted: dict[str, float]


@dataclass(frozen=True)
class TargetResolved(Record):
    """Paso 1.2: pip's own dry-run of the target's install on each app host ({host: {"ok",
    "said", "count", "install": [[name, version, where pip takes it from, whether that is a
    direct URL], …] (None: pip's report was not read), and for a
    recorded set "packages_sha256": of the venv it asked about}}), and
    the hosts where holding the unpinned packages would not resolve."""

    KEY: ClassVar[str] = "target_resolved"
    hosts: dict[str, dict[str, Any]]
    unheld: list[str]


@dataclass(frozen=True)
class PerHost(Record):
    """A record each host's thread adds its part to (`Run.keep_host`): {host: its part}."""

    hosts: dict[str, Any]


@dataclass(frozen=True)
class ServiceProcesses(PerHost):
    """Paso 2.2, before the stop: each app host's app-service pids and their descendants."""

    KEY: ClassVar[str] = "service_processes"


@dataclass(frozen=True)
class ServiceLogsBefore(PerHost):
    """Paso 5.1, before the start: each app host's log end per service (what a worker writes
    after it is since the start)."""

    KEY: ClassVar[str] = "service_logs_before"


@dataclass(frozen=True)
class LogsAtStart(PerHost):
    """Paso 5.1, before the first start: each app host's log sizes and the time they were read
    ({host: {"at": unix time, "offsets": {path: size}}}): where Paso 6.4's window begins."""

    KEY: ClassVar[str] = "logs_at_start"


@dataclass(frozen=True)
class LogsAtValidationStart(PerHost):
    """A validation run's first scenario: each app host's log sizes and the time they were read
    (as LogsAtStart): §8.2's window begins here, the other checks run inside it."""

    KEY: ClassVar[str] = "logs_at_validation_start"


@dataclass(frozen=True)
class Latency(PerHost):
    """§8.2: each app host's p50/p95 per API URL ({host: {url: figures}}), against `budget_ms`."""

    KEY: ClassVar[str] = "latency"
    budget_ms: float = 0


@dataclass(frozen=True)
class Resources(PerHost):
    """§8.2: each app host's load per core, memory and database connections used, against the
    environment's `limits`."""

    KEY: ClassVar[str] = "resources"
    limits: dict[str, float] | None = None


@dataclass(frozen=True)
class CeleryBroker(PerHost):
    """Whether each app host's celery app has remote control, and what it was loaded with:
    {host: {"loaded": {"code": the checkout's commit, "packages_sha256": of the venv's package
    set, "app": celery.app}, "remote_control": bool, "transport": str}} — loaded again whenever
    one of those changed."""

    KEY: ClassVar[str] = "celery_broker"


@dataclass(frozen=True)
class CeleryRoundtrip(PerHost):
    """§8.2: what a real task sent from each app host through the broker answered."""

    KEY: ClassVar[str] = "celery_roundtrip"


@dataclass(frozen=True)
class ShadowRestored(Record):
    """Paso 4.0 under swap: the backup `source` restored into the shadow database `name`."""

    KEY: ClassVar[str] = "shadow_restored"
    name: str
    source: str
    format: str
    jobs: int
    seconds: float


@dataclass(frozen=True)
class RowsRecovered(Record):
    """Paso 4.5: per table, the rows the restore dropped and those put back (`tables`), the
    salvage database left for a DBA (if any), and the pre-rollback database read (`source`)."""

    KEY: ClassVar[str] = "rows_recovered"
    tables: dict[str, dict[str, Any]]
    salvage: str | None
    source: str


@dataclass(frozen=True)
class RowLabels(Record):
    """Before any change (Paso 1.3's trial restore, swap's Paso 4.0): the app's own label of the
    first rows per table restoring the backup would lose, {table: {key: label}}, and when."""

    KEY: ClassVar[str] = "row_labels"
    tables: dict[str, dict[str, str]]
    when: str


@dataclass(frozen=True)
class DataLoss(Record):
    """Etapa 4's count of the pre-rollback rows absent after the restore, and again after
    Paso 4.5: per table (`tables`, None when not counted: Paso 4.1 ran in a resumed incident),
    the first keys of each table's lost rows (the record labels them from RowLabels where the app
    gave one), the file naming every one (actions.database.loss_statement), whether Paso 4.5 ran,
    and its conflicts (changed rows, not lost). Paso 7.1 reads it to ask which of the tables that
    lost rows hold user data (RowKinds)."""

    KEY: ClassVar[str] = "data_loss"
    tables: dict[str, int] | None
    keys: dict[str, list[str]] = field(default_factory=dict)
    listed: str | None = None
    recovered: bool = False
    conflicts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RowsChanged(Record):
    """Before Etapa 2, where the way back restores without Paso 4.5: per table, the rows present
    now and in the backup with other content (`tables`: how many), the first of them named
    (`rows`: {table: {key: {column: [backup's value, value now]}}}), and when it was estimated.
    The restore puts their backup content back; the newer is in the safety dump."""

    KEY: ClassVar[str] = "rows_changed"
    tables: dict[str, int]
    rows: dict[str, dict[str, dict[str, list[str]]]]
    when: str


@dataclass(frozen=True)
class RowKinds(Record):
    """Paso 7.1, where rows were lost: the tables whose lost rows are not user data — those the
    post-migrate signals of the target's `migrate` write on an empty scratch database
    (`regenerated`: recreated after every migrate, e.g. content types, permissions, an app's
    registries) and those the environment ignores (`database.ignore_tables`: sessions, caches).
    §7.1's criterion counts the rest. `asked`: how the app answered, or why it could not (then
    every lost row counts as user data)."""

    KEY: ClassVar[str] = "row_kinds"
    regenerated: list[str]
    ignored: list[str]
    asked: str

    def apart(self) -> set[str]:
        """The tables whose lost rows §7.1 does not count."""
        return {*self.regenerated, *self.ignored}


@dataclass(frozen=True)
class WebAnswer(Record):
    """Paso 5.1: the worst status the app hosts' health URL answered after the start, and each
    host's."""

    KEY: ClassVar[str] = "web_answer"
    status: int
    hosts: dict[str, int]


@dataclass(frozen=True)
class WorkersBefore(Record):
    """Paso 2.1: each app host's workers tried once by their method, before any change:
    {host: {"ready": bool, "said": str}}."""

    KEY: ClassVar[str] = "workers_before"
    hosts: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class AnswersBefore(Record):
    """Paso 2.1: how every configured URL answered before any change:
    {"<host> <url>": {"status": int, "body": sha256 or None}} (a bare status in old journals)."""

    KEY: ClassVar[str] = "answers_before"
    urls: dict[str, Any]


@dataclass(frozen=True)
class CodeBefore(Record):
    """Before Etapa 3: each app host's commit, tag, `pip freeze --all` and static snapshot."""

    KEY: ClassVar[str] = "code_before"
    hosts: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SafetyDump(Record):
    """The pre-rollback database, kept: the checked dump at `path` (size, sha256, format, and the
    per-table fingerprints taken before it), or, under swap, the database itself renamed aside as
    `database` (identified by its `oid`), dumped to `path` at Paso 5.4. `current`: known to be
    the state the rollback changes (taken after the stop, or Paso 4.0's with the cluster's
    transaction `horizon` unchanged since)."""

    KEY: ClassVar[str] = "pre_rollback_backup"
    path: str
    size: int | None = None
    sha256: str | None = None
    format: str | None = None
    tables: dict[str, dict[str, Any]] | None = None
    database: str | None = None
    oid: str | None = None
    dumped_at: str | None = None
    planned: bool = False
    horizon: str | None = None
    current: bool = True


@dataclass(frozen=True)
class VenvBuilt(Record):
    """Paso 3.4 (app.force_reinstall: new_venv): the new venv `path` beside the app's and, per
    app host, {"reinstalled": the distributions reinstalled because a file differed from their
    RECORD, "left": the packaging tools that differ, left as in place}, or {"in_place": why the
    host has none (Paso 3.2 reinstalls there in place)}."""

    KEY: ClassVar[str] = "venv_staged"
    path: str
    hosts: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class VenvRenamed(Record):
    """Paso 3.2 under new_venv: the new venv renamed to `live` on `hosts`, the old one to
    `aside`."""

    KEY: ClassVar[str] = "venv_switched"
    live: str
    aside: str
    hosts: list[str]


@dataclass(frozen=True)
class VenvRenamedBack(Record):
    """§9 under new_venv: the hosts where the old venv was renamed back to the app's path (its
    command moved it)."""

    KEY: ClassVar[str] = "venv_switched_back"
    hosts: list[str]


RECORDS: dict[str, type[Record]] = {
    kind.KEY: kind
    for kind in (
        Deployed,
        Target,
        ChosenBackup,
        MigrationPlan,
        DatabasePath,
        TrialRestore,
        TargetResolved,
        MigrationTrees,
        PackageMigrations,
        ServiceProcesses,
        ServiceLogsBefore,
        LogsAtStart,
        Latency,
        Resources,
        CeleryRoundtrip,
        ShadowRestored,
        RowsRecovered,
        WebAnswer,
        WorkersBefore,
        AnswersBefore,
        CodeBefore,
        SafetyDump,
        VenvBuilt,
        VenvRenamed,
        VenvRenamedBack,
    )
}
