"""The sandbox, for real: PostgreSQL, Redis, nginx, supervisord, gunicorn, celery, git.

A session fixture brings it up (provisioning it the first time) and resets it to the start
state; it is taken down again afterwards unless it was already running before the tests.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from rollbook import sandbox
from rollbook.core.config import secret
from rollbook.sandbox.layout import Layout, load_layout
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.supervisor import profile_programs
from rollbook.sandbox.up_down import ROWS_AFTER_DEPLOY

pytestmark = pytest.mark.integration

PROGRAMS = ("notify", "redis", "nginx", "gunicorn", "celery")


@pytest.fixture(scope="module")
def layout(sandbox_up: None) -> Layout:
    sandbox.reset()
    return load_layout()


def connect(layout: Layout) -> psycopg.Connection:
    db = layout.env.database
    return psycopg.connect(
        host=db.host,
        port=db.port,
        dbname=db.name,
        user=db.user,
        password=secret(layout.env, db.password_env),
        autocommit=True,
    )


def count(layout: Layout, table: str) -> int:
    with connect(layout) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def git(layout: Layout, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(layout.app), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def supervisorctl(layout: Layout, *args: str) -> str:
    command = [layout.supervisorctl, "-c", str(layout.supervisor_conf), *args]
    return subprocess.run(command, capture_output=True, text=True).stdout


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_iact_user_queries_the_database_over_tcp_with_the_secret(layout: Layout) -> None:
    with connect(layout) as connection:
        user, owner = connection.execute(
            "SELECT current_user, pg_get_userbyid(datdba) FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
        can_create = connection.execute(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()[0]
    assert (user, owner, can_create) == ("iact_user", "iact_user", True)
    assert count(layout, "core_customer") == layout.seed_rows + ROWS_AFTER_DEPLOY


def test_defective_tag_is_deployed_newest_and_health_answers_500(layout: Layout) -> None:
    tags = git(layout, "tag", "--sort=-creatordate").splitlines()
    assert len(tags) == 3
    assert git(layout, "describe", "--tags", "--exact-match", "HEAD") == tags[0]
    assert http_status(layout.env.health.url) == 500


def test_nightly_backup_is_fresh_and_an_older_one_is_too_old(layout: Layout) -> None:
    pattern = layout.env.database.backup_pattern
    ages = sorted((time.time() - p.stat().st_mtime) / 3600 for p in layout.backups.glob(pattern))
    assert len(ages) == 2
    assert ages[0] < 24 < ages[1]


def test_celery_round_trip_through_the_app_venv(layout: Layout) -> None:
    code = (
        "import django; django.setup(); from core.tasks import add; "
        "print(add.delay(2, 3).get(timeout=30))"
    )
    result = subprocess.run(
        [str(layout.venv / "bin" / "python"), "-c", code],
        cwd=layout.app,
        env={"DJANGO_SETTINGS_MODULE": layout.env.app.env["DJANGO_SETTINGS_MODULE"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "5", result.stderr


def test_supervisorctl_shows_every_program_running(layout: Layout) -> None:
    states = dict(line.split()[:2] for line in supervisorctl(layout, "status").splitlines())
    # `worker` (a stack without celery starts it) and the profiles' programs (`up --profile
    # NAME`) are defined and not started by the sandbox
    stopped = dict.fromkeys(("worker", *(p.name for p in profile_programs())), "STOPPED")
    assert states == {**dict.fromkeys(PROGRAMS, "RUNNING"), **stopped}


def test_maintenance_page_answers_503_until_removed(layout: Layout) -> None:
    endpoint = layout.env.health.endpoints[0]
    shutil.copyfile(layout.maintenance_template, layout.maintenance_page)
    try:
        status, body = fetch(endpoint)
    finally:
        layout.maintenance_page.unlink()
    assert status == 503
    assert "Mantenimiento en curso" in body
    assert fetch(endpoint)[0] == 200


def test_reset_restores_the_start_state(layout: Layout) -> None:
    tags = git(layout, "tag", "--sort=-creatordate").splitlines()
    supervisorctl(layout, "stop", "gunicorn")
    git(layout, "checkout", "--quiet", tags[1])
    with connect(layout) as connection:
        connection.execute("DELETE FROM core_order")
        connection.execute("DROP TABLE core_customer CASCADE")
    shutil.copyfile(layout.maintenance_template, layout.maintenance_page)
    safety = layout.backups / "pre_rollback_20250101_000000.sql"
    safety.write_text("-- safety backup\n")
    pip = [str(layout.venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "humanize"]
    subprocess.run(pip, check=True, capture_output=True)

    sandbox.reset()

    assert "RUNNING" in supervisorctl(layout, "status", "gunicorn")
    new_tags = git(layout, "tag", "--sort=-creatordate").splitlines()
    assert git(layout, "describe", "--tags", "--exact-match", "HEAD") == new_tags[0]
    assert count(layout, "core_customer") == layout.seed_rows + ROWS_AFTER_DEPLOY
    assert count(layout, "core_order") == 2 * (layout.seed_rows + ROWS_AFTER_DEPLOY)
    assert not layout.maintenance_page.exists()
    assert not safety.exists()
    assert (layout.venv / "bin" / "python").is_file()
    assert any(Path(layout.venv).glob("lib/python*/site-packages/humanize"))
    assert http_status(layout.env.health.url) == 500
    assert all(ok for _, _, ok in sandbox.status())
