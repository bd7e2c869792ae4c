"""The Host handle and the resources on it, on `local://` with real git and a real command line:
commands are journaled under the Paso acting, a PostgreSQL client gets its password as a private
file, never as an argument, and a git checkout reads what git itself says."""

from pathlib import Path

import pytest

from rollbook.core.config import AppConfig, DatabaseConfig
from rollbook.core.executor import CommandFailed, Mode, ReadOnlyRefused
from rollbook.core.resources import Checkout, PostgresClient, Venv
from tests.unit.git_repo import git, make_repo
from tests.unit.local_run import local_host, local_run

PASSWORD = "pw:with\\colon-4711"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


def test_commands_are_journaled_under_the_paso_acting(tmp_path: Path) -> None:
    host = local_host(tmp_path / "journal")
    executor = host.policy
    with executor.acting_for("3.1"):
        host.run(["true"], mutating=True)
        with executor.acting_for("lock"):
            host.run(["true"], mutating=False)
        host.run(["true"], mutating=False)
    host.run(["true"], mutating=False)
    pasos = [e["paso"] for e in executor.journal.events("command")]
    assert pasos == ["3.1", "lock", "3.1", None]
    [intent] = executor.journal.events("intent")
    assert (intent["paso"], intent["host"]) == ("3.1", "local://")


def test_checkout_reads_what_git_says(tmp_path: Path, repo: Path) -> None:
    tree = Checkout(local_host(tmp_path / "journal"), str(repo))
    assert tree.head() == git(repo, "rev-parse", "HEAD")
    assert tree.tag_commit("deploy-1") == git(repo, "rev-parse", "HEAD~1")
    assert tree.git("rev-parse", "no-such-ref", check=False) == ""
    with pytest.raises(CommandFailed, match="no-such-ref"):
        tree.git("rev-parse", "no-such-ref")


def test_a_read_only_host_refuses_a_checkout(tmp_path: Path, repo: Path) -> None:
    tree = Checkout(local_host(tmp_path / "journal", Mode.READ_ONLY), str(repo))
    before = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ReadOnlyRefused, match="read-only"):
        tree.git("checkout", "deploy-1", mutating=True)
    assert git(repo, "rev-parse", "HEAD") == before


def test_venv_tools_run_from_the_app_folder_with_its_environment(tmp_path: Path) -> None:
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    python = tmp_path / "venv" / "bin" / "python"
    python.write_text('#!/bin/sh\necho "$(pwd) $APP_SETTING $*"\n')
    python.chmod(0o755)
    app = AppConfig(
        path=str(tmp_path),
        venv=str(tmp_path / "venv"),
        tags="deploy-*",
        env={"APP_SETTING": "from-yaml"},
    )
    venv = Venv(local_host(tmp_path / "journal"), app)
    out = venv.manage("showmigrations", "--plan", mutating=False).stdout.strip()
    assert out == f"{tmp_path} from-yaml manage.py showmigrations --plan"


def test_postgres_client_gets_the_password_as_a_private_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    host = local_host(tmp_path / "journal")
    db = DatabaseConfig(
        host="127.0.0.1",
        port=5433,
        name="app",
        user="app_user",
        password_env="UNUSED",
        backups="/b",
        backup_pattern="*.sql",
    )
    pg = PostgresClient(host, db, PASSWORD)
    # `sh -c` in place of a PostgreSQL tool: it shows the argv and the pgpass file it was given
    script = 'echo "$*"; cat "$PGPASSFILE"'
    out = pg.run("sh", "-d", "app", before=["-c", script, "sh"], mutating=False).stdout
    argv_line, pgpass_line = out.splitlines()
    assert argv_line == "-h 127.0.0.1 -p 5433 -U app_user -d app"
    assert pgpass_line == "*:*:*:*:pw\\:with\\\\colon-4711"
    [command] = host.policy.journal.events("command")
    assert PASSWORD not in command["line"] and "PGPASSFILE=" in command["line"]
    assert host.policy.close_hosts() == []
    assert not list((tmp_path / "home").glob(".rollbook/runs/*"))


def test_an_app_command_gets_its_env_file_and_secret_variables_never_on_a_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_url = "postgresql://app:s3cr3t-app-pw@db/app"
    monkeypatch.setenv("OPERATOR_APP_DATABASE_URL", secret_url)
    keys = ", env_file: .env, secret_env: {DATABASE_URL: OPERATOR_APP_DATABASE_URL}, env: {MODE: y}"
    run = local_run(tmp_path, monkeypatch, app_keys=keys)
    (tmp_path / "app" / ".env").write_text("# the app's own\nMODE=x\nexport FROM_FILE='a b'\n")
    venv = Venv(run.site.first_host("app"), run.site.env.app)
    said = venv.run(["sh", "-c", 'echo "$FROM_FILE|$MODE|$DATABASE_URL"'], mutating=False)
    assert said.stdout.strip() == f"a b|y|{secret_url}"  # app.env over the file
    journal = (run.incident.folder / "journal.jsonl").read_text()
    assert "s3cr3t-app-pw" not in journal
    assert "private_file" in journal and "app.env" in journal
    # not even redacted on the command line: the variable is read from the file on the host
    assert "DATABASE_URL=" not in journal and "MODE=y" in journal
