"""The bad-input catalog: each case is refused with one clear line, a non-zero exit, and nothing
changed on any host (checked against the sandbox's state before and after)."""

import getpass
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.sandbox import instance
from rollbook.sandbox.sshd import Sshd, new_key, start_sshd
from rollbook.sandbox.variant import write_variant as environments
from tests.e2e.releases import deploy_tags
from tests.e2e.reliability import record
from tests.e2e.sandbox_state import INCIDENT, env, pytest_feature, state
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e
LOCK = Path(env().database.backups) / ".rollbook-lock"
SSHD: list[Sshd] = []  # started by a case, stopped when the module ends


@pytest.fixture(scope="module")
def start(sandbox_up: None) -> object:
    sandbox.reset()
    return state()


def other_database_dump(tmp_path: Path) -> str:
    """A complete, valid pg_dump — of another database (postgres)."""
    db = env().database
    path = Path(db.backups) / "iact_staging_e2e_otherdb.sql"
    password = (
        subprocess.run(
            ["grep", db.password_env, env().env_file], capture_output=True, text=True, check=True
        )
        .stdout.split("=", 1)[1]
        .strip()
    )
    subprocess.run(
        [
            "pg_dump",
            *db.client_args(),
            "-d",
            "postgres",
            "-f",
            str(path),
        ],
        env={**os.environ, "PGPASSWORD": password},
        check=True,
    )
    return str(path)


@pytest.fixture(scope="module", autouse=True)
def stop_sshd() -> Iterator[None]:
    yield
    for server in SSHD:
        server.stop()


def refused_login(tmp_path: Path) -> str:
    """A real sshd on loopback, and a key it does not know."""
    server = start_sshd(tmp_path / "sshd")
    SSHD.append(server)
    return server.spec(getpass.getuser(), new_key(tmp_path / "key-not-authorized"))


def held_lock() -> None:
    """A rollback in progress by a live process (this test's own)."""
    LOCK.mkdir()
    owner = {
        "incident": "2026-01-01-0000-sandbox",
        "operator": "someone else",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": "2026-01-01T00:00:00",
    }
    (LOCK / "owner.json").write_text(json.dumps(owner))


def truncated(tmp_path: Path) -> str:
    path = Path(env().database.backups) / "iact_staging_e2e_truncated.sql"
    data = newest_nightly().read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def empty(tmp_path: Path) -> str:
    path = Path(env().database.backups) / "iact_staging_e2e_empty.sql"
    path.write_bytes(b"")
    return str(path)


NOT_CRITICAL = [
    *(a for a in INCIDENT if not a.startswith(("--severity", "--approved-by"))),
    "--severity=ALTO",
    "--users-affected=40",
    "--approved-by=Tomás Torres",
]


SIGNED_BY_OPERATOR = [  # the operator is the person whose own key signs
    *(a for a in NOT_CRITICAL if not a.startswith("--operator")),
    f"--signing-key={instance.root(instance.current()) / 'people' / 'devops_ed25519'}",
]


def unsigned(tmp_path: Path) -> str:
    """An approval statement of the tech lead's, without the signature beside it."""
    path = tmp_path / "approval.json"
    path.write_text(json.dumps({"kind": "approval", "identity": "tech-lead@sandbox.invalid"}))
    return str(path)


# case → (arguments, extra environment variables, text the message must hold)
CASES: dict[str, Callable[[Path], tuple[list[str], dict, str]]] = {
    "unknown environment": lambda t: (
        ["--env=nope", *INCIDENT[1:]],
        {},
        "unknown environment 'nope'",
    ),
    "malformed YAML": lambda t: (
        INCIDENT,
        environments(t, None, "name: sandbox\nhosts: [\n"),
        "not valid YAML at line",
    ),
    "unknown key": lambda t: (
        INCIDENT,
        environments(t, lambda d: d.update(colour="red")),
        "key 'colour' is not a known key",
    ),
    "wrong type": lambda t: (
        INCIDENT,
        environments(t, lambda d: d["database"].update(port="x")),
        "key 'database.port'",
    ),
    "missing key": lambda t: (
        INCIDENT,
        environments(t, lambda d: d["database"].pop("name")),
        "key 'database.name' is missing",
    ),
    "unknown --severity": lambda t: ([*INCIDENT, "--severity=BAJO"], {}, "invalid choice: 'BAJO'"),
    "--reason missing": lambda t: (
        [a for a in INCIDENT if not a.startswith("--reason")],
        {},
        "the incident needs --reason",
    ),
    "not critical, no approval": lambda t: (
        [a for a in INCIDENT if not a.startswith(("--severity", "--approved-by"))]
        + ["--severity=ALTO"],
        {},
        "Evaluar con Tech Lead",
    ),
    "approval required, none given": lambda t: (
        NOT_CRITICAL,
        environments(t, lambda d: d.update(approval="required")),
        "requires a signed approval of the plan",
    ),
    "--approval file missing": lambda t: (
        [*SIGNED_BY_OPERATOR, "--approval=/nonexistent/approval.json"],
        {},
        "does not exist",
    ),
    "--approval without its signature": lambda t: (
        [*SIGNED_BY_OPERATOR, f"--approval={unsigned(t)}"],
        {},
        "its signature approval.json.sig is missing",
    ),
    "--approval without the operator's own key": lambda t: (
        [*NOT_CRITICAL, f"--approval={unsigned(t)}"],
        {},
        "needs the operator's own key",
    ),
    "--approved-by nobody of the environment": lambda t: (
        [*NOT_CRITICAL[:-1], "--approved-by=Nadie"],
        {},
        "is nobody in",
    ),
    "--approved-by the operator": lambda t: (
        [*NOT_CRITICAL[:-1], "--approved-by=Tomás Torres", "--operator=Tomás Torres"],
        {},
        "is the operator: four eyes",
    ),
    "confirmation required, none given": lambda t: (
        INCIDENT,
        environments(t, lambda d: d.update(confirm=True)),
        "needs --confirm-production=sandbox",
    ),
    "§14 of the procedure unsigned, the environment requires it signed": lambda t: (
        INCIDENT,
        environments(t, lambda d: d.update(procedure_approvals="required")),
        "requires the procedure signed (procedure_approvals: required)",
    ),
    "--target-tag that does not exist": lambda t: (
        [*INCIDENT, "--target-tag=staging-deploy-19990101-0000"],
        {},
        "exists neither on",
    ),
    "--target-tag = the deployed release": lambda t: (
        [*INCIDENT, f"--target-tag={deploy_tags()[0]}"],
        {},
        "is the deployed release",
    ),
    "--target-tag with shell metacharacters": lambda t: (
        [*INCIDENT, "--target-tag=x;touch /tmp/pwned"],
        {},
        "is not a valid tag name",
    ),
    "--backup missing": lambda t: (
        [*INCIDENT, "--backup=iact_staging_19990101_0000.sql"],
        {},
        "does not exist",
    ),
    "--backup empty": lambda t: ([*INCIDENT, f"--backup={empty(t)}"], {}, "is empty"),
    "--backup truncated": lambda t: ([*INCIDENT, f"--backup={truncated(t)}"], {}, "is truncated"),
    "--backup of another database": lambda t: (
        [*INCIDENT, f"--backup={other_database_dump(t)}"],
        {},
        "not a backup of this database",
    ),
    "wrong database password": lambda t: (
        INCIDENT,
        {"IACT_DB_PASSWORD": "wrong"},
        "password authentication failed",
    ),
    "unreachable host": lambda t: (
        INCIDENT,
        environments(t, lambda d: d["hosts"].update(app=["ssh://nobody@127.0.0.1:1"])),
        "ssh://nobody@127.0.0.1:1",
    ),
    "SSH authentication failure": lambda t: (
        INCIDENT,
        environments(t, lambda d: d["hosts"].update(app=[refused_login(t)])),
        "SSH refused the login",
    ),
    "--record-release outside validation": lambda t: (
        [*INCIDENT, "--record-release"],
        {},
        "records what a whole validation run proved",
    ),
    "report folder not writable": lambda t: (
        [*INCIDENT, "--report-dir=/etc/hostname/reports"],
        {},
        "cannot create the incident folder",
    ),
    "a second concurrent run": lambda t: (
        held_lock() or INCIDENT,
        {},
        "is locked by a rollback in progress",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_nothing_changed(
    start: object, tmp_path: Path, case: str
) -> None:
    args, extra_env, expected = CASES[case](tmp_path)
    before = state()
    try:
        done = pytest_feature(tmp_path / "reports", *args, extra_env=extra_env)
        output = done.stdout + done.stderr
        message = next((line for line in output.splitlines() if expected in line), "")
        unchanged = state() == before and not (LOCK.exists() and case != "a second concurrent run")
        record(
            "bad input",
            case,
            " ".join(args)[:90],
            message.strip()[:160],
            done.returncode,
            unchanged and done.returncode != 0,
        )
        assert done.returncode != 0, output[-3000:]
        assert message, f"no line with {expected!r} in:\n{output[-3000:]}"
        assert "Traceback" not in output
        assert unchanged
    finally:
        for leftover in Path(env().database.backups).glob("iact_staging_e2e_*.sql"):
            leftover.unlink()
        if case == "a second concurrent run":
            (LOCK / "owner.json").unlink()
            LOCK.rmdir()
