"""A run's command line, written once: each RunOptions field is declared with its option in one
line (`option(...)`), which makes the pytest option (and an argparse one: `add_options` takes
either's `add` method), fills the field, and says whether the approval's re-plan passes it on.
The run's own rows (--resume, --break-lock, RUN_ONLY) set no field: the plugin reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, TypeVar

from rollbook.core.config import parse_duration
from rollbook.core.errors import UserError

T = TypeVar("T")


def resolved_path(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


def report_folder(value: str) -> Path:
    """--report-dir as given (no ~ expansion: the shell's job), absolute: where the incident
    folder is made (plugin/options.py) and where later runs look for it."""
    return Path(value).resolve()


def key_path(value: str | None) -> str | None:
    return str(Path(value).expanduser().resolve()) if value else None


def watch_seconds(value: str | None) -> float | None:
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


def option(flag: str, help: str, *, required: bool = False, **row: Any) -> Any:
    """A RunOptions field and its command-line row, in one line: `required` fields have no
    default (the caller settles them), a switch defaults to off (a negated one to on), any other
    field to None."""
    meta = {"option": Option(flag, help, **row)}
    if required:
        return dataclass_field(metadata=meta)
    default = row.get("negated", False) if row.get("switch") else None
    return dataclass_field(default=default, metadata=meta)


RUN_ONLY = [
    Option("--break-lock", "take over a stale rollback lock", switch=True),
    Option("--resume", "with --incident: continue that rollback forward", switch=True),
]


def rows(options: Any) -> list[Option]:
    """The rows of an options dataclass (or instance), each naming the field it fills."""
    return [
        replace(f.metadata["option"], field=f.name)
        for f in fields(options)
        if "option" in f.metadata
    ]


def table(options: Any) -> list[Option]:
    """Every option of a run's command line: its fields' rows, then the run's own."""
    return [*rows(options), *RUN_ONLY]


def add_options(add: Callable[..., Any], options: list[Option]) -> None:
    """Each row as an option: `add` is pytest's group.addoption or argparse's add_argument."""
    for row in options:
        add(row.flag, **row.arguments())


def filled(options: type[T], given: Callable[[str], Any], **settled: Any) -> T:
    """The options from the command line's values (`given(flag)`); `settled`: fields the caller
    settles itself (the loaded environment's name, the signing key's person)."""
    values: dict[str, Any] = {}
    for row in rows(options):
        value = row.read(given(row.flag))
        values[row.field or ""] = not value if row.negated else value
    return options(**{**values, **settled})


def replan_arguments(options: Any) -> list[str]:
    """The command line of the approval's re-plan: the rows it passes on, as this run had them."""
    args = []
    for row in rows(options):
        value = getattr(options, row.field or "") if row.replan else None
        if row.switch and value is not None and value != row.negated:
            args.append(row.flag)
        elif not row.switch and value is not None:
            args.append(f"{row.flag}={value}")
    return args
