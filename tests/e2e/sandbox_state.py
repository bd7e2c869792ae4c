"""What the e2e tests compare: the sandbox's database content, deployed ref, packages, services."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from rollbook.actions.database import fingerprint_sql
from rollbook.core.config import AppConfig, Environment, load_environment, secret
from rollbook.core.journal import read_journal
from rollbook.sandbox.variant import restoring

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = [
    "--env=sandbox",
    "--reason=Health 500 tras el deploy",
    "--severity=CRITICO",
    "--impact=API caida",
    "--approved-by=Tomás Torres",
    "--operator=e2e",
]


def env(name: str = "sandbox") -> Environment:
    """The sandbox's environment file, or a profile's (sandbox-wagtail …)."""
    return load_environment(name)


def connect(database: str | None = None, environment: str = "sandbox") -> psycopg.Connection[Any]:
    e = env(environment)
    db = e.database
    return psycopg.connect(
        host=db.host,
        port=db.port,
        user=db.user,
        dbname=database or db.name,
        password=secret(e, db.password_env),
        autocommit=True,
    )


def fingerprints(
    database: str | None = None, environment: str = "sandbox"
) -> dict[str, dict[str, object]]:
    with connect(database, environment) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        rows = conn.execute(fingerprint_sql(names)).fetchall() if names else []
    return {t: {"rows": n, "checksum": h} for t, n, h in rows}


def migration_rows(environment: str = "sandbox") -> list[str]:
    """The database's django_migrations rows, "app.name", sorted."""
    with connect(environment=environment) as conn:
        rows = conn.execute("SELECT app || '.' || name FROM django_migrations")
        return sorted(r[0] for r in rows)


def ledger_record(environment: str, tag: str) -> dict[str, Any]:
    """The ledger's entry for `tag` (a profile's stable release, written at provisioning)."""
    lines = Path(env(environment).ledger_file()).read_text().splitlines()
    return next(e for e in map(json.loads, lines) if e["tag"] == tag)


def backup_fingerprints(path: str, environment: str = "sandbox") -> dict[str, dict[str, object]]:
    """Restore a plain backup into a scratch database and fingerprint it."""
    scratch = "rollbook_e2e_check"
    with connect("postgres", environment) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    e = env(environment)
    db = e.database
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            *db.client_args(),
            "-d",
            scratch,
            "-f",
            path,
        ],
        check=True,
        capture_output=True,
        env={"PGPASSWORD": secret(e, db.password_env), "PATH": "/usr/bin:/bin"},
    )
    try:
        return fingerprints(scratch, environment)
    finally:
        with connect("postgres", environment) as conn:
            conn.execute(f'DROP DATABASE "{scratch}"')


def fast(data: dict) -> None:
    """The fault matrix and crash points: Paso 3.2 asks pip before reinstalling (issue 7's fast
    path); the procedure's --force-reinstall is run by the main rollback test and the demo."""
    data["app"]["force_reinstall"] = "when_needed"


def short_waits(data: dict) -> None:
    """A fault that hangs (a stray worker Paso 2.2 waits for, a lock pg_dump waits on) fails its
    Paso when its bound runs out: bounds of 10 s instead of the sandbox's 30 s, still far above
    what a healthy stop or the sandbox's dump take (1 to 2 s)."""
    data["services"]["stop_timeout"] = "10s"
    data.setdefault("timeouts", {})["dump"] = "10s"


def fast_restoring(data: dict) -> None:
    """The fault matrix and the crash points: the procedure as written (restore faults and a kill
    inside the restore among them), with Paso 3.2's fast path."""
    fast(data)
    restoring(data)


def as_owner(app: AppConfig) -> list[str]:
    """The words that run a command as the checkout's owner: app.user where one is named."""
    return ["runuser", "-u", app.user, "--"] if app.user else []


def git(*args: str, environment: str = "sandbox") -> str:
    """git in the deployed checkout, as its owner (app.user where the environment names one)."""
    app = env(environment).app
    return subprocess.run(
        [*as_owner(app), "git", "-C", app.path, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def services() -> dict[str, str]:
    services = env().services
    out = subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), "status"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}


def freeze(environment: str = "sandbox") -> list[str]:
    return pip_freeze(env(environment).app.venv)


def pip_freeze(venv: str) -> list[str]:
    """`pip freeze --all` of the venv at `venv`, sorted."""
    done = subprocess.run(
        [f"{venv}/bin/python", "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(done.stdout.split())


def damaged_files(venv: str) -> dict[str, list[str]]:
    """The distributions of the venv at `venv` holding a file that is not what their wheel
    installed (its RECORD's sha256): "Name==version" → the first such files."""
    script = (ROOT / "rollbook" / "actions" / "recorded_files.py").read_text()
    done = subprocess.run(
        [f"{venv}/bin/python", "-c", script], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout)["damaged"])


def served() -> str:
    """What the sandbox serves through nginx as its release: /api/v1/status/'s body (it names
    the running code's VERSION: 1.5.0 defective, 1.4.0 stable)."""
    url = env().health.endpoints[0]
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.read().decode()
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as exc:
        return f"nothing answered ({exc})"


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, start in seconds since boot) from /proc, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[19]) / os.sysconf("SC_CLK_TCK")


def serving_processes(environment: str = "sandbox") -> dict[int, float]:
    """pid → start (s since boot) of every process of the environment's app services: the pid
    supervisord names and all its descendants, read from /proc (not through rollbook)."""
    services = env(environment).services
    roots = set()
    for name in services.app:
        out = subprocess.run(
            [services.supervisorctl, "-c", str(services.supervisor_conf), "pid", name],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if out.isdigit() and int(out) > 0:
            roots.add(int(out))
    table = {int(p.name): _stat(int(p.name)) for p in Path("/proc").glob("[0-9]*")}
    found, grew = set(roots), True
    while grew:
        more = {pid for pid, st in table.items() if st and st[0] in found and pid not in found}
        found |= more
        grew = bool(more)
    return {pid: table[pid][1] for pid in found if table.get(pid)}  # type: ignore[index]


def stale_processes(since: float, environment: str = "sandbox") -> list[str]:
    """The app's serving processes that started before `since` (s since boot) or map a file
    of the app's folders that no longer exists: what still runs code §9 replaced."""
    e = env(environment)
    roots = tuple(f"{p.rstrip('/')}/" for p in (e.app.path, e.app.venv))
    stale = []
    for pid, start in sorted(serving_processes(environment).items()):
        if start < since:
            stale.append(f"pid {pid} started {since - start:.1f} s before")
        try:
            maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        except OSError:
            continue
        gone = [m.split(None, 5)[-1] for m in maps if m.endswith(" (deleted)")]
        if any(path.startswith(roots) for path in gone):
            stale.append(f"pid {pid} maps deleted files of the app")
    return stale


def static_files(environment: str = "sandbox") -> dict[str, str]:
    """relative path → sha256 of every file under the app's static root (read by the test)."""
    e = env(environment)
    root = Path(e.app.path) / e.app.static_root
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass(frozen=True)
class State:
    database: dict[str, dict[str, object]]
    head: str
    worktree: str
    packages: list[str]
    services: dict[str, str]
    maintenance: bool
    backups: list[str]
    served: str
    static: dict[str, str] = field(compare=False)  # compared by restored_to, after a §9

    def restored_to(self, before: State) -> bool:
        """Everything §9 puts back equals `before` (the backups folder gains the safety dump),
        the release served included."""
        return not self.differences(before)

    def differences(self, before: State) -> dict[str, tuple[Any, Any]]:
        """What §9 puts back that differs from `before`: {part: (before, now)}."""
        kept = (
            "database",
            "head",
            "worktree",
            "packages",
            "services",
            "maintenance",
            "served",
            "static",
        )
        return {
            name: (getattr(before, name), getattr(self, name))
            for name in kept
            if getattr(self, name) != getattr(before, name)
        }


def state() -> State:
    e = env()
    assert e.maintenance is not None
    return State(
        database=fingerprints(),
        head=git("rev-parse", "HEAD"),
        worktree=git("status", "--porcelain"),  # a hand edit on the server is never lost
        packages=freeze(),
        services=services(),
        maintenance=Path(e.maintenance.page).exists(),
        backups=sorted(p.name for p in Path(e.database.backups).iterdir()),
        served=served(),
        static=static_files(),
    )


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    folder: Path

    def journal(self) -> list[dict[str, Any]]:
        return list(read_journal(self.folder / "journal.jsonl"))

    @property
    def outcome(self) -> str:
        return [e for e in self.journal() if e["event"] == "outcome"][-1]["outcome"]

    def facts(self) -> dict[str, Any]:
        return {e["key"]: e["value"] for e in self.journal() if e["event"] == "fact"}

    def restarted_at(self) -> float | None:
        """When §9 restarted the services (s since boot, after its last restore action)."""
        times = [e["uptime"] for e in self.journal() if e["event"] == "recovery_restart"]
        return min(times) if times else None

    def pasos(self) -> dict[str, str]:
        return {e["paso"]: e["status"] for e in self.journal() if e["event"] == "paso_finished"}


ROLLBACK = "features/rollback.feature"


def pytest_feature(
    report_dir: Path, *args: str, feature: str = ROLLBACK, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if not any(a.startswith("--report-dir") for a in args):
        args = (*args, f"--report-dir={report_dir}")
    return subprocess.run(
        [sys.executable, "-m", "pytest", feature, *args, "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(extra_env or {})},
    )


def run_feature(
    report_dir: Path, *args: str, feature: str = ROLLBACK, extra_env: dict[str, str] | None = None
) -> Outcome:
    before = set(report_dir.iterdir()) if report_dir.exists() else set()
    done = pytest_feature(report_dir, *args, feature=feature, extra_env=extra_env)
    created = sorted(set(report_dir.iterdir()) - before)
    assert len(created) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    return Outcome(done.returncode, done.stdout + done.stderr, created[0])


def dump(outcome: Outcome) -> str:
    """Context for a failed assertion: the end of the output and the failed Pasos."""
    failed = {k: v for k, v in outcome.pasos().items() if v != "passed"}
    return f"{outcome.output[-4000:]}\nfailed/skipped: {json.dumps(failed)}"


def interpreters(environment: str = "sandbox") -> dict[int, str]:
    """pid → the program each serving process runs (its command line's first word, from /proc):
    a script's shebang names the venv whose packages it imports."""
    return {
        pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        for pid in serving_processes(environment)
    }


def since_boot(iso: str) -> float:
    """A journal time as seconds since the machine booted (the clock of /proc/PID/stat)."""
    boot = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    return datetime.fromisoformat(iso).timestamp() - boot
