"""app.user: the app's commands (git, pip, manage.py, its files) run as the app's own user —
through runuser from root, `sudo -n -u` from another login — with their folder, environment files
and bound; the files they read sit in a private folder of that user."""

import os
import pwd
from pathlib import Path

import pytest

from rollbook.core.connection import command_line
from rollbook.core.executor import Executor, Mode, owner_words
from rollbook.core.journal import Journal, read_journal
from rollbook.core.redact import Redactor

APP_USER = "nobody"  # a no-login account every Debian machine has


def test_the_words_depend_on_the_login() -> None:
    assert owner_words("root", "app") == ["runuser", "-u", "app", "--"]
    assert owner_words("deploy", "app") == ["sudo", "-n", "-u", "app", "--"]
    assert owner_words("app", "app") == []


def test_the_whole_line_runs_as_the_owner() -> None:
    line = command_line(["pip", "install"], cwd="/srv/a b", env={"K": "v"}, timeout=5,
                        owner=["runuser", "-u", "app", "--"])  # fmt: skip
    assert line == (
        "runuser -u app -- sh -c 'cd '\"'\"'/srv/a b'\"'\"' && env K=v timeout -k 10 5 pip install'"
    )


def _executor(tmp_path: Path) -> Executor:
    redactor = Redactor()
    executor = Executor(Journal(tmp_path / "journal.jsonl", redactor), redactor,
                        progress=lambda _: None)  # fmt: skip
    executor.app_user = APP_USER
    return executor


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser needs a root login")
def test_an_app_command_runs_as_the_app_user_and_reads_its_private_file(tmp_path: Path) -> None:
    executor = _executor(tmp_path)
    host = executor.host("local://")
    assert host.run(["id", "-un"], mutating=False).stdout.strip() == "root"
    secret = host.secret_env_file({"TOKEN": "t0k3n"}, "app.env", app=True)
    assert pwd.getpwuid(Path(secret).stat().st_uid).pw_name == APP_USER
    assert Path(secret).parent.name.startswith("rollbook-run-")
    assert oct(Path(secret).parent.stat().st_mode & 0o777) == "0o700"
    said = host.run(["sh", "-c", 'echo "$(id -un) $TOKEN"'], mutating=False, cwd="/",
                    env_files=[secret], app=True).stdout.strip()  # fmt: skip
    assert said == f"{APP_USER} t0k3n"
    ran = [e for e in read_journal(tmp_path / "journal.jsonl") if e["event"] == "command"]
    assert ran[-1]["line"].startswith(f"runuser -u {APP_USER} -- sh -c ")
    assert executor.close_hosts() == []
    assert not Path(secret).parent.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser needs a root login")
def test_a_dry_run_plans_the_line_as_the_app_user_runs_it(tmp_path: Path) -> None:
    executor = _executor(tmp_path)
    executor.mode = Mode.DRY_RUN
    executor.host("local://").run(["git", "checkout", "v1"], mutating=True, app=True)
    planned = [e for e in read_journal(tmp_path / "journal.jsonl") if e["event"] == "planned"]
    assert planned[0]["line"] == f"runuser -u {APP_USER} -- sh -c 'git checkout v1'"
