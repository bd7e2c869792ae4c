"""The command line of a run (--env, --reason, …) and the incident folder reserved at configure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rollbook.core.config import load_environment
from rollbook.core.errors import UserError
from rollbook.core.run import SEVERITIES, new_incident_dir
from rollbook.plugin.keys import ENV_KEY, FOLDER_KEY


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollbook", "rollbook: the rollback procedure PROCED-BACK-003")
    group.addoption("--env", help="environment to act on: a file environments/NAME.yaml")
    group.addoption("--target-tag", help="release to roll back to (default: last stable tag)")
    group.addoption("--backup", help="backup to restore (default: newest before the deploy)")
    group.addoption("--reason", help="symptoms observed (Paso 1.1)")
    group.addoption("--severity", choices=SEVERITIES, help="incident severity (Paso 1.1)")
    group.addoption("--impact", help="users / functions affected (Paso 1.1)")
    group.addoption("--approved-by", help="Tech Lead or Incident Manager who approved")
    group.addoption(
        "--approval", metavar="FILE",
        help="the approval signed with `rollbook approve` over this rollback's dry-run plan",
    )  # fmt: skip
    group.addoption(
        "--signing-key", metavar="FILE",
        help="your own SSH key (private, or .pub with ssh-agent): the record is signed by you, "
        "the person of the environment's people whose key it is (default: signing.key)",
    )  # fmt: skip
    group.addoption("--operator", help="who executes (default: git user.name, else $USER)")
    group.addoption("--dry-run", action="store_true", help="plan: run no mutating command")
    group.addoption("--report-dir", default="reports", help="folder for incident reports")
    group.addoption(
        "--no-auto-recover", action="store_true", help="do not restore the pre-rollback state (§9)"
    )
    group.addoption("--incident", help="incident id whose journal §9 restores from")
    group.addoption(
        "--users-affected", type=float, help="percent of users affected (Anexo C decision tree)"
    )
    group.addoption("--break-lock", action="store_true", help="take over a stale rollback lock")
    group.addoption(
        "--resume", action="store_true", help="with --incident: continue that rollback forward"
    )
    group.addoption(
        "--confirm-production", metavar="ENV", help="required where the YAML says confirm: true"
    )
    group.addoption(
        "--record-release", action="store_true",
        help="validation.feature: when every check passes, record the release in the ledger",
    )  # fmt: skip
    group.addoption(
        "--watch", metavar="DURATION",
        help="validation.feature: §8.2's extended watch (e.g. 30m) with a live progress line; "
        "with --incident ID its result is appended to that rollback's record, signed again",
    )  # fmt: skip
    group.addoption(
        "--force-target", action="store_true",
        help="let --target-tag name a release the ledger marks failed or rolled back from",
    )  # fmt: skip


RECORD_CSS = Path(__file__).with_name("record.css")  # the record's look, inlined by pytest-html


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads --html
def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("--env")
    if name is None:
        return
    try:
        env = config.stash[ENV_KEY] = load_environment(name)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("collectonly"):
        return
    report_dir = Path(config.getoption("--report-dir")).resolve()
    try:
        incident, folder = new_incident_dir(report_dir, env.name, datetime.now(UTC))
    except OSError as exc:
        raise pytest.UsageError(
            f"--report-dir {report_dir}: cannot create the incident folder ({exc.strerror}): "
            "give a writable folder"
        ) from None
    config.stash[FOLDER_KEY] = (incident, folder)
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(folder / "report.html")
        config.option.self_contained_html = True
    config.option.css = [*(config.getoption("css", None) or []), str(RECORD_CSS)]
