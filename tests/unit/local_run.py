"""A Run, or a bare Host, on `local://` whose paths are a test's own folder: the engine's modules
run their real commands against it, without a sandbox or any server."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollbook.core.config import load_environment
from rollbook.core.executor import Executor, Mode
from rollbook.core.host import Host
from rollbook.core.journal import Journal
from rollbook.core.redact import Redactor
from rollbook.core.run import Run, RunOptions

PASSWORD = "unit-db-pw-4711"


def local_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: Mode = Mode.EXECUTE,
    app_keys: str = "",
    health_keys: str = "",
    **options: object,
) -> Run:
    envs = tmp_path / "environments"
    envs.mkdir(exist_ok=True)
    for sub in ("backups", "app", "home", "www"):
        (tmp_path / sub).mkdir(exist_ok=True)
    (tmp_path / "maintenance.template").write_text("<h1>Mantenimiento</h1>")
    (envs / "unit.yaml").write_text(
        f"""name: unit
approval: optional
hosts: {{app: ["local://"], db: ["local://"]}}
app: {{path: {tmp_path}/app, venv: {tmp_path}/venv, tags: "deploy-*"{app_keys}}}
services: {{manager: supervisor, app: [web], proxy: null}}
maintenance: {{template: {tmp_path}/maintenance.template, page: {tmp_path}/www/maintenance.html}}
database: {{host: 127.0.0.1, name: unit, user: unit, password_env: UNIT_DB_PASSWORD,
            backups: {tmp_path}/backups, backup_pattern: "unit_*.sql"}}
health: {{url: "http://127.0.0.1:9/health/"{health_keys}}}
celery: {{app: config}}
"""
    )
    monkeypatch.setenv("ROLLBOOK_ENVIRONMENTS", str(envs))
    monkeypatch.setenv("UNIT_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run_options = RunOptions(
        env_name="unit", report_dir=tmp_path / "reports", operator="unit", **options
    )  # type: ignore[arg-type]
    return Run(run_options, load_environment("unit"), mode, progress=lambda _: None)


def local_host(folder: Path, mode: Mode = Mode.EXECUTE) -> Host:
    """local:// through a journaling executor of its own, journal in `folder` (no Run)."""
    folder.mkdir(parents=True, exist_ok=True)
    redactor = Redactor()
    journal = Journal(folder / "journal.jsonl", redactor)
    executor = Executor(journal, redactor, mode, progress=lambda _: None)
    executor.incident = folder.name
    return executor.host("local://")
