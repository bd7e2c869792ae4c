"""The execution layer: quoting, the journal, and refusal of mutating actions."""

import json
from pathlib import Path

import pytest

from rollbook.core.command import CommandResult, command_line
from rollbook.core.connection import Connection
from rollbook.core.errors import UserError
from rollbook.core.executor import (
    CommandFailed,
    Executor,
    Mode,
    ReadOnlyRefused,
    connection_hint,
)
from rollbook.core.journal import Journal, read_journal
from rollbook.core.redact import MASK, Redactor
from rollbook.core.transports import (
    LINK_LOST,
    BackendTransport,
    LocalTransport,
    SshTransport,
    transport_for,
)

HOSTILE = [
    "$(touch pwned)",
    "`touch pwned`",
    "a; touch pwned",
    'it\'s "quoted"',
    "*",
    "%s %%",
    "\n",
]


def make(tmp_path: Path, mode: Mode = Mode.EXECUTE) -> Executor:
    redactor = Redactor()
    redactor.add("s3cr3t-value")
    return Executor(
        Journal(tmp_path / "journal.jsonl", redactor), redactor, mode, progress=lambda _: None
    )


def lines(tmp_path: Path) -> list[dict]:
    return list(read_journal(tmp_path / "journal.jsonl"))


@pytest.mark.parametrize("argument", HOSTILE)
def test_hostile_arguments_reach_the_command_unchanged(tmp_path: Path, argument: str) -> None:
    executor = make(tmp_path)
    local = executor.host("local://")
    result = local.run(["printf", "%s", argument], mutating=False, cwd=str(tmp_path))
    assert result.stdout == argument
    assert not (tmp_path / "pwned").exists()


def test_every_command_is_journaled_with_its_facts(tmp_path: Path) -> None:
    executor = make(tmp_path)
    executor.paso = "2.2"
    failing = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    executor.host("local://").run(failing, mutating=False, check=False)
    [event] = lines(tmp_path)
    assert event["event"] == "command"
    assert event["host"] == "local://"
    assert event["argv"] == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert event["exit"] == 3
    assert event["stdout"] == "out\n" and event["stderr"] == "err\n"
    assert event["paso"] == "2.2" and event["mutating"] is False
    assert event["start"] <= event["end"]


def test_failure_names_host_command_and_error(tmp_path: Path) -> None:
    executor = make(tmp_path)
    with pytest.raises(CommandFailed, match=r"local://: `ls /nonexistent-dir` exited 2: .*No such"):
        executor.host("local://").run(["ls", "/nonexistent-dir"], mutating=False)


def test_secrets_are_redacted_and_recorded_paths_stay_intact(tmp_path: Path) -> None:
    executor = make(tmp_path)
    folder = tmp_path / "s3cr3t-value"  # a path that happens to hold a secret's value
    folder.mkdir()
    with pytest.raises(CommandFailed) as error:
        executor.host("local://").run(["sh", "-c", "echo s3cr3t-value; exit 1"], mutating=False)
    assert "s3cr3t-value" not in str(error.value)
    executor.journal.write("fact", key="pre_rollback_backup", value={"path": str(folder)})
    command, fact = lines(tmp_path)
    assert command["stdout"] == f"{MASK}\n" and "s3cr3t-value" not in command["line"]
    assert fact["value"]["path"] == str(folder)  # §9 reads it back: never masked


def test_the_database_password_reaches_its_host_as_a_private_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    executor = make(tmp_path)
    env = executor.host("local://").pgpass("s3cr3t-value:with\\colon")
    path = Path(env["PGPASSFILE"])
    assert path.read_text() == "*:*:*:*:s3cr3t-value\\:with\\\\colon\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    executor.host("local://").run(["true"], mutating=False, env=env)
    text = (tmp_path / "journal.jsonl").read_text()
    assert "s3cr3t-value" not in text and str(path) in text
    assert executor.close_hosts() == [] and not path.parent.exists()


def test_a_host_that_stops_answering_is_bounded_here(tmp_path: Path) -> None:
    host = Connection("local://", "t", grace=0.2)
    done = host.send("sleep 30", bound=0.3)
    assert done.exit_status == LINK_LOST and "stopped responding" in done.stderr


def test_mutating_commands_record_intent_before_the_result(tmp_path: Path) -> None:
    executor = make(tmp_path)
    executor.host("local://").run(["touch", str(tmp_path / "made")], mutating=True)
    assert [e["event"] for e in lines(tmp_path)] == ["intent", "command"]
    assert (tmp_path / "made").exists()


def test_dry_run_plans_mutating_commands_without_running_them(tmp_path: Path) -> None:
    executor = make(tmp_path, Mode.DRY_RUN)
    result = executor.host("local://").run(["touch", str(tmp_path / "made")], mutating=True)
    assert result.planned and not (tmp_path / "made").exists()
    read = executor.host("local://").run(["echo", "probe"], mutating=False)
    assert read.stdout == "probe\n"
    assert [e["event"] for e in lines(tmp_path)] == ["planned", "command"]


def test_read_only_refuses_mutating_commands(tmp_path: Path) -> None:
    executor = make(tmp_path, Mode.READ_ONLY)
    with pytest.raises(ReadOnlyRefused, match="read-only"):
        executor.host("local://").run(["touch", str(tmp_path / "made")], mutating=True)
    assert not (tmp_path / "made").exists()
    assert lines(tmp_path)[-1]["event"] == "refused"


def test_command_line_quotes_cwd_env_timeout_and_sudo() -> None:
    command = command_line(["a b"], cwd="/x y", env={"K": "v w"}, timeout=5, sudo=True)
    assert command == "cd '/x y' && env 'K=v w' timeout -k 10 5 sudo -n 'a b'"


def test_journal_lines_are_json(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", Redactor())
    journal.write("fact", key="k", value={"n": 1})
    assert json.loads((tmp_path / "j.jsonl").read_text())["value"] == {"n": 1}
    assert oct((tmp_path / "j.jsonl").stat().st_mode & 0o777) == "0o600"


def test_a_hung_command_is_stopped_by_its_timeout(tmp_path: Path) -> None:
    executor = make(tmp_path)
    executor.default_timeout = 1
    with pytest.raises(CommandFailed, match=r"`sleep 30` timed out"):
        executor.host("local://").run(["sleep", "30"], mutating=False)
    assert lines(tmp_path)[-1]["exit"] == 124


@pytest.mark.parametrize(
    ("host", "status", "stderr", "expected"),
    [
        ("ssh://ops@db1", 255, "ops@db1: Permission denied (publickey).", "SSH refused the login"),
        ("ssh://ops@db1", 255, "port 22: No route to host", "cannot be reached"),
        ("ssh://ops@db1", 255, "Host key verification failed.", "known_hosts"),
        ("ssh://ops@db1", 1, "Permission denied", ""),  # the command's own failure
        ("local://", 255, "Permission denied", ""),
    ],
)
def test_a_failed_connection_says_what_to_check(
    host: str, status: int, stderr: str, expected: str
) -> None:
    result = CommandResult(host, ["hostname"], status, "", stderr, 0.1)
    hint = connection_hint(result)
    assert (expected in hint) if expected else hint == ""
    assert result.unreached == bool(expected)  # the host, not the command (Paso 3.4's copy)


def test_a_failure_keeps_the_first_line_of_what_the_command_said(tmp_path: Path) -> None:
    """git's error comes first and its hint after: both are in the Paso's error."""
    executor = make(tmp_path)
    script = (
        "echo \"fatal: detected dubious ownership in repository at '/srv/app'\" >&2; "
        "echo 'To add an exception for this directory, call:' >&2; echo >&2; "
        "echo '\tgit config --global --add safe.directory /srv/app' >&2; exit 128"
    )
    with pytest.raises(CommandFailed) as failed:
        executor.host("local://").run(["sh", "-c", script], mutating=False)
    said = str(failed.value)
    assert (
        "exited 128: fatal: detected dubious ownership in repository at '/srv/app' / To add" in said
    )
    assert said.endswith("git config --global --add safe.directory /srv/app")
    # a longer output: its first line, then its last three
    long = "echo 'error: the first' >&2; for n in 2 3 4 5 6; do echo \"line $n\" >&2; done; exit 1"
    with pytest.raises(CommandFailed) as failed:
        executor.host("local://").run(["sh", "-c", long], mutating=False)
    assert str(failed.value).endswith("exited 1: error: the first / … / line 4 / line 5 / line 6")


def test_each_kind_of_host_gets_its_own_transport() -> None:
    """local:// runs here, ssh:// through testinfra's ssh line with a shared connection of this
    run, any other testinfra backend through testinfra (no standard input: a secret file there
    is refused with what to use instead)."""
    assert isinstance(transport_for("local://"), LocalTransport)
    ssh = transport_for("ssh://deploy@127.0.0.1:2222")
    assert isinstance(ssh, SshTransport) and ssh.control_path.endswith("/%C")
    ssh.close()
    docker = transport_for("docker://some-container")
    assert isinstance(docker, BackendTransport)
    with pytest.raises(UserError, match=r"cannot receive a secret file.*use an ssh://"):
        docker.send("cat > f", stdin="secret")


def test_a_dry_run_sends_mutating_commands_to_the_planning_transport(tmp_path: Path) -> None:
    """The planned line is the one a real run would send, wrappers included; reads still run."""
    executor = make(tmp_path, Mode.DRY_RUN)
    executor.default_timeout = 60
    executor.paso = "3.1"
    executor.host("local://").run(["touch", str(tmp_path / "made")], mutating=True, cwd="/")
    [planned] = lines(tmp_path)
    assert (planned["event"], planned["paso"], planned["cwd"]) == ("planned", "3.1", "/")
    assert planned["line"] == f"cd / && timeout -k 10 60 touch {tmp_path / 'made'}"


def test_a_probe_is_answered_but_not_journaled(tmp_path: Path) -> None:
    executor = make(tmp_path)
    assert executor.host("local://").probe("echo 42").strip() == "42"
    assert lines(tmp_path) == []
