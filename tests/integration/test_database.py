"""The database adapter on the real sandbox PostgreSQL through `local://`, without a Run: the
password reaches psql as a private pgpass file only, and the queries the Pasos rely on answer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.actions import database
from rollbook.core.config import load_environment, secret
from rollbook.core.executor import Executor, Mode
from rollbook.core.journal import Journal
from rollbook.core.redact import Redactor
from rollbook.core.resources import PostgresClient


@pytest.fixture
def pg(sandbox_up: None, tmp_path: Path) -> Iterator[PostgresClient]:
    env = load_environment("sandbox")
    redactor = Redactor()
    journal = Journal(tmp_path / "journal.jsonl", redactor)
    executor = Executor(journal, redactor, Mode.READ_ONLY, progress=lambda _: None)
    executor.incident = tmp_path.name
    password = secret(env, env.database.password_env)
    yield PostgresClient(executor.host("local://"), env.database, password)
    journal.close()


def test_queries_use_a_private_pgpass_file_removed_at_close(pg: PostgresClient) -> None:
    journal = pg.host.executor.journal
    assert database.psql(pg, "SELECT current_user").strip() == pg.database.user
    [private] = [e for e in journal.events("private_file")]
    pgpass = Path(private["path"])
    assert pgpass.read_text().endswith(f"{pg.password}\n") and pgpass.stat().st_mode & 0o077 == 0
    lines = [e["line"] for e in journal.events("command")]
    assert all(pg.password not in line and "PGPASSWORD" not in line for line in lines)
    assert all(f"PGPASSFILE={pgpass}" in line for line in lines)
    assert "PGPASSWORD" not in os.environ or os.environ["PGPASSWORD"] != pg.password
    tables = database.tables(pg)
    prints = database.fingerprints(pg)
    assert tables and set(prints) == set(tables)
    assert all(isinstance(p["rows"], int) for p in prints.values())
    assert database.migrations_count(pg) > 0
    assert pg.host.executor.close_hosts() == [] and not pgpass.parent.exists()


def test_row_keys_come_in_one_query_per_block_of_tables(
    pg: PostgresClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table's row keys as its own query gives them, a set per table (empty ones too),
    read in one psql call per block of TABLES_PER_QUERY tables; fingerprints likewise."""
    prints = database.fingerprints(pg)
    calls = len(pg.host.executor.journal.events("command"))
    keys = database.row_keys(pg)
    assert len(pg.host.executor.journal.events("command")) - calls == 3  # pks, tables, keys
    assert set(keys) == set(prints)
    assert {t: len(k) for t, k in keys.items()} == {t: p["rows"] for t, p in prints.items()}
    table = "django_migrations"
    alone = database.psql(pg, f'SELECT hashtextextended(ROW(x."id")::text, 0) FROM {table} AS x')
    assert keys[table] == {int(k) for k in alone.split()}
    monkeypatch.setattr(database, "TABLES_PER_QUERY", 2)
    assert database.row_keys(pg) == keys
    assert database.fingerprints(pg) == prints
