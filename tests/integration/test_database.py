"""The database adapter on the real sandbox PostgreSQL through `local://`: the password reaches
psql as this run's pgpass file only, and the queries the Pasos rely on answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollbook.actions import database
from rollbook.core.config import load_environment, secret
from rollbook.core.executor import Mode
from rollbook.core.run import Run, RunOptions


@pytest.fixture
def run(sandbox_up: None, tmp_path: Path) -> Run:
    env = load_environment("sandbox")
    options = RunOptions(env_name="sandbox", report_dir=tmp_path, operator="integration")
    return Run(options, env, Mode.READ_ONLY, progress=lambda _: None)


def test_queries_use_a_private_pgpass_file_removed_at_close(run: Run) -> None:
    password = secret(run.env, run.env.database.password_env)
    assert database.psql(run, "SELECT current_user").strip() == run.env.database.user
    [private] = [e for e in run.journal.events("private_file")]
    pgpass = Path(private["path"])
    assert pgpass.read_text().endswith(f"{password}\n") and pgpass.stat().st_mode & 0o077 == 0
    lines = [e["line"] for e in run.journal.events("command")]
    assert all(password not in line and "PGPASSWORD" not in line for line in lines)
    assert all(f"PGPASSFILE={pgpass}" in line for line in lines)
    assert "PGPASSWORD" not in os.environ or os.environ["PGPASSWORD"] != password
    tables = database.tables(run)
    prints = database.fingerprints(run)
    assert tables and set(prints) == set(tables)
    assert all(isinstance(p["rows"], int) for p in prints.values())
    assert database.migrations_count(run) > 0
    assert run.executor.close_hosts() == [] and not pgpass.parent.exists()
