"""app.user: the app's commands (git, pip, manage.py, its files) run as the app's own user —
through runuser from root, `sudo -n -u` from another login — with their folder, environment files
and bound; the files they read sit in a private folder of that user."""

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.actions.app_services import app_user_writes
from rollbook.core.command import command_line
from rollbook.core.errors import StepFailed
from rollbook.core.executor import Executor, Mode, owner_words
from rollbook.core.journal import Journal, read_journal
from rollbook.core.redact import Redactor
from rollbook.lifecycle.recovery import remove_private_files
from tests.unit.local_run import local_run

APP_USER = "nobody"  # a no-login account every Debian machine has


def test_the_words_depend_on_the_login() -> None:
    assert owner_words("root", "app") == ["runuser", "-u", "app", "--"]
    assert owner_words("deploy", "app") == ["sudo", "-n", "-u", "app", "--"]
    assert owner_words("app", "app") == []


def test_the_whole_line_runs_as_the_owner() -> None:
    line = command_line(
        ["pip", "install"],
        cwd="/srv/a b",
        env={"K": "v"},
        timeout=5,
        owner=["runuser", "-u", "app", "--"],
    )
    assert line == (
        "runuser -u app -- sh -c 'cd '\"'\"'/srv/a b'\"'\"' && env K=v timeout -k 10 5 pip install'"
    )


def _executor(tmp_path: Path) -> Executor:
    redactor = Redactor()
    executor = Executor(
        Journal(tmp_path / "journal.jsonl", redactor), redactor, progress=lambda _: None
    )
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
    said = host.run(
        ["sh", "-c", 'echo "$(id -un) $TOKEN"'],
        mutating=False,
        cwd="/",
        env_files=[secret],
        app=True,
    ).stdout.strip()
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


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder every user may traverse (pytest's own tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="rollbook-unit-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser needs a root login")
def test_paso_2_1_stops_when_the_app_user_cannot_write_the_checkout(
    open_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(open_folder, monkeypatch, app_keys=f", user: {APP_USER}")
    (open_folder / "venv").mkdir()
    host = run.site.first_host("app")
    with pytest.raises(StepFailed) as refused:
        app_user_writes(host, run.site.env)
    said = str(refused.value)
    assert f"app.user {APP_USER} cannot run the app's commands here" in said
    assert "chown -R" in said and "\n" not in said
    for folder in ("app", "venv"):
        os.chown(open_folder / folder, pwd.getpwnam(APP_USER).pw_uid, -1)
    app_user_writes(host, run.site.env)  # its own folders: nothing to say


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser needs a root login")
def test_a_dead_runs_app_folder_is_removed_as_the_app_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch, app_keys=f", user: {APP_USER}")
    folder = Path(f"/tmp/rollbook-run-DEAD-3.{os.getpid():08x}")
    folder.mkdir(mode=0o700)
    (folder / "app.env").write_text("TOKEN=t\n")
    os.chown(folder, pwd.getpwnam(APP_USER).pw_uid, -1)
    events: list[dict[str, object]] = [
        {"event": "run_started", "incident": "DEAD-3"},
        {"event": "private_file", "host": "local://", "path": f"{folder}/app.env", "app": True},
    ]
    assert remove_private_files(run, events) == {"local://": None}
    assert not folder.exists()
    [removal] = [
        e
        for e in read_journal(run.incident.journal.path)
        if e["event"] == "command" and e["argv"][0] == "rm"
    ]
    assert removal["line"].startswith(f"runuser -u {APP_USER} -- ")
