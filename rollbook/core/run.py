"""A run: its options, checked, and its three parts — the incident, the site, the records."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollbook.core.config import Environment, secret
from rollbook.core.errors import UserError
from rollbook.core.executor import Executor, Mode
from rollbook.core.incident import Incident
from rollbook.core.journal import Journal
from rollbook.core.option_table import (
    filled,
    key_path,
    option,
    report_folder,
    resolved_path,
    table,
    watch_seconds,
)
from rollbook.core.records import Records
from rollbook.core.redact import Redactor
from rollbook.core.site import Site

# §2.3's four: service down, critical function down, > 50 % of users, post-deployment tests
# failing massively (before users are hit: "Preventivo")
SEVERITIES = ("CRITICO", "ALTO", "MEDIO", "PREVENTIVO")
_SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/+-]{1,4096}$")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """A run's options, each field declared with its command-line option (core/option_table)."""

    env_name: str = option(
        "--env", "environment to act on: a file environments/NAME.yaml", required=True, replan=True
    )
    report_dir: Path = option(
        "--report-dir",
        "folder for incident reports",
        required=True,
        default="reports",
        read=report_folder,
    )
    operator: str = option(
        "--operator",
        "who executes (default: git user.name, else $USER)",
        required=True,
        replan=True,
    )
    target_tag: str | None = option(
        "--target-tag", "release to roll back to (default: last stable tag)", replan=True
    )
    backup: str | None = option(
        "--backup", "backup to restore (default: newest before the deploy)", replan=True
    )
    reason: str | None = option("--reason", "symptoms observed (Paso 1.1)", replan=True)
    severity: str | None = option(
        "--severity", "incident severity (Paso 1.1)", replan=True, choices=SEVERITIES
    )
    impact: str | None = option("--impact", "users / functions affected (Paso 1.1)", replan=True)
    approved_by: str | None = option("--approved-by", "Tech Lead or Incident Manager who approved")
    approval: Path | None = option(
        "--approval",
        "the approval signed with `rollbook approve` over this rollback's dry-run plan",
        metavar="FILE",
        read=resolved_path,
    )
    signing_key: str | None = option(
        "--signing-key",
        "your own SSH key (private, or .pub with ssh-agent): the record is signed by you, the "
        "person of the environment's people whose key it is (default: signing.key)",
        replan=True,
        metavar="FILE",
        read=key_path,
    )
    watch: float | None = option(
        "--watch",
        "validation.feature: §8.2's extended watch (e.g. 30m) with a live progress line; with "
        "--incident ID its result is appended to that rollback's record, signed again",
        metavar="DURATION",
        read=watch_seconds,
    )
    dry_run: bool = option("--dry-run", "plan: run no mutating command", switch=True)
    auto_recover: bool = option(
        "--no-auto-recover",
        "do not restore the pre-rollback state (§9)",
        switch=True,
        negated=True,
    )
    incident: str | None = option("--incident", "incident id whose journal §9 restores from")
    users_affected: float | None = option(
        "--users-affected",
        "percent of users affected (Anexo C decision tree)",
        replan=True,
        number=True,
    )
    confirm: str | None = option(
        "--confirm-production",
        "required where the YAML says confirm: true",
        replan=True,
        metavar="ENV",
    )
    record_release: bool = option(
        "--record-release",
        "validation.feature: when every check passes, record the release in the ledger",
        switch=True,
    )
    force_target: bool = option(
        "--force-target",
        "let --target-tag name a release the ledger marks failed or rolled back from",
        switch=True,
        replan=True,
    )


# the run's command line: pytest's options, the approval's re-plan (core/option_table.py)
OPTIONS = table(RunOptions)


def run_options(given: Callable[[str], Any], env_name: str, operator: str) -> RunOptions:
    """RunOptions from the command line's values (`given(flag)`); the environment's name and the
    operator are settled by the caller (the loaded file's name; the signing key's person)."""
    return filled(RunOptions, given, env_name=env_name, operator=operator)


def default_operator() -> str:
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        name = ""
    return name or os.environ.get("USER") or getpass.getuser()


def validate_options(options: RunOptions) -> None:
    """Refuse malformed input before anything runs (one line, nothing changed)."""
    if options.target_tag is not None and not _SAFE_REF.match(options.target_tag):
        raise UserError(
            f"--target-tag {options.target_tag!r} is not a valid tag name: use letters, digits "
            "and . _ / - only (e.g. staging-deploy-20251117-1430)"
        )
    if options.backup is not None and not _SAFE_PATH.match(options.backup):
        raise UserError(
            f"--backup {options.backup!r} is not a valid path: use letters, digits and . _ / + - "
            "only (e.g. /backups/iact_staging_20251117_1430.sql)"
        )
    if options.severity is not None and options.severity not in SEVERITIES:
        raise UserError(f"--severity {options.severity!r}: choose one of {', '.join(SEVERITIES)}")


def new_incident_dir(report_dir: Path, env_name: str, when: datetime) -> tuple[str, Path]:
    """YYYY-MM-DD-HHMM-<env>, made unique with -2, -3 … when two runs start in the same minute."""
    report_dir.mkdir(parents=True, exist_ok=True)
    base = f"{when:%Y-%m-%d-%H%M}-{env_name}"
    for n in range(1, 1000):
        incident = base if n == 1 else f"{base}-{n}"
        try:
            (report_dir / incident).mkdir(mode=0o700)
        except FileExistsError:
            continue
        return incident, report_dir / incident
    raise UserError(f"too many incidents named {base}* in {report_dir}: clean up old reports")


class Run:
    """One run of the suite: the incident, the site it acts on, and what it learnt and began —
    each Paso is handed the parts it uses, never the run."""

    def __init__(
        self,
        options: RunOptions,
        env: Environment,
        mode: Mode,
        progress: Callable[[str], None] = print,
        reserved: tuple[str, Path] | None = None,
    ) -> None:
        validate_options(options)
        if env.confirm and options.confirm != env.name and mode is Mode.EXECUTE:
            raise UserError(
                f"environment {env.name} needs --confirm-production={env.name}: "
                "say which environment you are about to change"
            )
        redactor = Redactor()
        db_password = secret(env, env.database.password_env)
        redactor.add(db_password)
        app_secrets = {name: secret(env, source) for name, source in env.app.secret_env.items()}
        for value in app_secrets.values():
            redactor.add(value)
        started = datetime.now(UTC)
        incident_id, folder = reserved or new_incident_dir(options.report_dir, env.name, started)
        journal = Journal(folder / "journal.jsonl", redactor)
        executor = Executor(
            journal, redactor, mode, env.root_actions(), lambda text: self.incident.say(text)
        )
        executor.default_timeout = env.timeouts.default
        executor.incident = incident_id
        executor.app_secrets = app_secrets
        executor.app_user = env.app.user
        self.site = Site(env, executor, redactor, db_password)
        for target in env.notify:  # notification URLs carry tokens: secrets too
            self.site.secret_or_none(target.url_env)
        self.incident = Incident(
            options, incident_id, folder, started, journal, executor, redactor, progress
        )
        self.records = Records(journal, executor)
        options_record = asdict(options) | {"report_dir": str(options.report_dir)}
        journal.write(
            "run_started",
            incident=incident_id,
            environment=env.name,
            environment_file=env.source,
            mode=mode.value,
            options=options_record,
        )
