"""A run's command line, written once: each row makes the pytest option (and an argparse one:
`add_options` takes either's `add` method), fills its RunOptions field, and says whether the
approval's re-plan passes it on. The run's own rows (--resume, --break-lock) set no field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollbook.core.config import parse_duration
from rollbook.core.errors import UserError
from rollbook.core.run import SEVERITIES, RunOptions


def _resolved(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


def report_folder(value: str) -> Path:
    """--report-dir as given (no ~ expansion: the shell's job), absolute: where the incident
    folder is made (plugin/options.py) and where later runs look for it."""
    return Path(value).resolve()


def _key(value: str | None) -> str | None:
    return str(Path(value).expanduser().resolve()) if value else None


def _watch(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise UserError(f"--watch {value!r} is not a duration: give one like 30m (§8.2) or 90s")
    return seconds


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    field: str | None = None  # the RunOptions field it fills; None: the plugin reads it
    switch: bool = False  # given or not (store_true)
    replan: bool = False  # the approval's re-plan passes it on (rollbook.governance.approval)
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    number: bool = False
    default: str | None = None
    read: Callable[[Any], Any] = _same  # the command line's value → the field's
    negated: bool = False  # the field is the switch's opposite (--no-auto-recover)

    def arguments(self) -> dict[str, Any]:
        """What pytest's addoption and argparse's add_argument take."""
        if self.switch:
            return {"action": "store_true", "help": self.help}
        given = {"metavar": self.metavar, "choices": self.choices, "default": self.default}
        typed = {"type": float} if self.number else {}
        return {"help": self.help, **typed, **{k: v for k, v in given.items() if v is not None}}


OPTIONS: list[Option] = [
    Option(
        "--env", "environment to act on: a file environments/NAME.yaml", "env_name", replan=True
    ),
    Option(
        "--target-tag",
        "release to roll back to (default: last stable tag)",
        "target_tag",
        replan=True,
    ),
    Option(
        "--backup", "backup to restore (default: newest before the deploy)", "backup", replan=True
    ),
    Option("--reason", "symptoms observed (Paso 1.1)", "reason", replan=True),
    Option(
        "--severity", "incident severity (Paso 1.1)", "severity", replan=True, choices=SEVERITIES
    ),
    Option("--impact", "users / functions affected (Paso 1.1)", "impact", replan=True),
    Option("--approved-by", "Tech Lead or Incident Manager who approved", "approved_by"),
    Option(
        "--approval",
        "the approval signed with `rollbook approve` over this rollback's dry-run plan",
        "approval",
        metavar="FILE",
        read=_resolved,
    ),
    Option(
        "--signing-key",
        "your own SSH key (private, or .pub with ssh-agent): the record is "
        "signed by you, the person of the environment's people whose key it is (default: "
        "signing.key)",
        "signing_key",
        replan=True,
        metavar="FILE",
        read=_key,
    ),
    Option(
        "--operator", "who executes (default: git user.name, else $USER)", "operator", replan=True
    ),
    Option("--dry-run", "plan: run no mutating command", "dry_run", switch=True),
    Option(
        "--report-dir",
        "folder for incident reports",
        "report_dir",
        default="reports",
        read=report_folder,
    ),
    Option(
        "--no-auto-recover",
        "do not restore the pre-rollback state (§9)",
        "auto_recover",
        switch=True,
        negated=True,
    ),
    Option("--incident", "incident id whose journal §9 restores from", "incident"),
    Option(
        "--users-affected",
        "percent of users affected (Anexo C decision tree)",
        "users_affected",
        replan=True,
        number=True,
    ),
    Option("--break-lock", "take over a stale rollback lock", switch=True),
    Option("--resume", "with --incident: continue that rollback forward", switch=True),
    Option(
        "--confirm-production",
        "required where the YAML says confirm: true",
        "confirm",
        replan=True,
        metavar="ENV",
    ),
    Option(
        "--record-release",
        "validation.feature: when every check passes, record the release in the ledger",
        "record_release",
        switch=True,
    ),
    Option(
        "--watch",
        "validation.feature: §8.2's extended watch (e.g. 30m) with a live "
        "progress line; with --incident ID its result is appended to that rollback's "
        "record, signed again",
        "watch",
        metavar="DURATION",
        read=_watch,
    ),
    Option(
        "--force-target",
        "let --target-tag name a release the ledger marks failed or rolled back from",
        "force_target",
        switch=True,
        replan=True,
    ),
]


def add_options(add: Callable[..., Any], table: list[Option] = OPTIONS) -> None:
    """Each row as an option: `add` is pytest's group.addoption or argparse's add_argument."""
    for option in table:
        add(option.flag, **option.arguments())


def run_options(
    given: Callable[[str], Any], env_name: str, operator: str, table: list[Option] = OPTIONS
) -> RunOptions:
    """RunOptions from the command line's values (`given(flag)`); the environment's name and the
    operator are settled by the caller (the loaded file's name; the signing key's person)."""
    values: dict[str, Any] = {}
    for option in table:
        if option.field is not None:
            value = option.read(given(option.flag))
            values[option.field] = not value if option.negated else value
    return RunOptions(**{**values, "env_name": env_name, "operator": operator})


def replan_arguments(options: RunOptions, table: list[Option] = OPTIONS) -> list[str]:
    """The command line of the approval's re-plan: the rows it passes on, as this run had them."""
    args = []
    for option in table:
        value = getattr(options, option.field) if option.replan and option.field else None
        if option.switch and value is not None and value != option.negated:
            args.append(option.flag)
        elif not option.switch and value is not None:
            args.append(f"{option.flag}={value}")
    return args
