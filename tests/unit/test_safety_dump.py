"""Paso 4.1's dump on `local://`: written as PATH.partial (0600, like the nightlies) and renamed to
PATH only once pg_dump has finished, so a failed, hung or killed dump never looks like a backup."""

import stat
from pathlib import Path

import pytest

from rollbook.actions.database import dump_to, unfinished_dump
from rollbook.core.config import DatabaseConfig, Timeouts
from rollbook.core.errors import StepFailed
from rollbook.core.resources import PostgresClient
from tests.unit.local_run import local_host


@pytest.fixture
def pg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PostgresClient:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    db = DatabaseConfig(
        host="127.0.0.1",
        port=9,
        name="app",
        user="app",
        password_env="UNUSED",
        backups=str(tmp_path),
        backup_pattern="*.sql",
    )
    return PostgresClient(local_host(tmp_path / "journal"), db, "pw")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_dump_that_fails_leaves_only_a_private_partial_file(
    pg: PostgresClient, tmp_path: Path
) -> None:
    path = tmp_path / "pre_rollback_20261129_050000.sql"  # no server on port 9: pg_dump fails
    with pytest.raises(StepFailed, match=rf"the incomplete file is kept as {path}\.partial$"):
        dump_to(pg, "app", str(path), Timeouts(dump=30))
    assert not path.exists()
    assert mode(Path(f"{path}.partial")) == 0o600
    said = unfinished_dump(pg.host, str(path))
    assert said.startswith(f"Paso 4.1's dump did not finish: {path}.partial (0 bytes) is ")


def test_a_finished_dump_is_renamed_and_stays_private(
    pg: PostgresClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "pg_dump"  # writes a dump to its -f argument, as pg_dump does
    fake.write_text('#!/bin/sh\nwhile [ "$1" != -f ]; do shift; done\necho "-- dump" > "$2"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    path = tmp_path / "pre_rollback_20261129_050001.sql"
    dump_to(pg, "app", str(path), Timeouts(dump=30))
    assert path.read_text() == "-- dump\n" and mode(path) == 0o600
    assert not Path(f"{path}.partial").exists()
    assert "finished before the run died" in unfinished_dump(pg.host, str(path))
