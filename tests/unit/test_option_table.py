"""One option table (rollbook.core.option_table): each RunOptions field is declared with its
option in one line, and pytest's options, an argparse command line, the filled RunOptions and the
approval's re-plan all come from those lines."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from rollbook.core.errors import UserError
from rollbook.core.option_table import add_options, filled, option, replan_arguments, table
from rollbook.core.run import OPTIONS, RunOptions

ROOT = Path(__file__).resolve().parents[2]


def parsed(argv: list[str], options: Any = RunOptions) -> Any:
    """The options an argparse command line (the `rollbook` CLI's kind) fills."""
    parser = argparse.ArgumentParser()
    add_options(parser.add_argument, table(options))
    values = vars(parser.parse_args(argv))
    given = lambda flag: values[flag[2:].replace("-", "_")]  # noqa: E731
    return filled(options, given, env_name="staging", operator="ana")


def test_every_run_option_is_a_row_of_the_table() -> None:
    filled_by_rows = {row.field for row in OPTIONS if row.field}
    assert filled_by_rows == {field.name for field in fields(RunOptions)}


def test_pytest_offers_every_row() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [o.flag for o in OPTIONS if o.flag not in shown] == []


def test_the_replan_gets_what_the_plan_depends_on_and_nothing_of_this_run() -> None:
    options = parsed(
        [
            "--env=staging",
            "--target-tag=stable-1",
            "--reason=500s en /checkout",
            "--severity=ALTO",
            "--users-affected=30",
            "--force-target",
            "--approved-by=Lead",
            "--approval=approval.json",
            "--no-auto-recover",
            "--incident=2026-12-07-1800-staging",
            "--dry-run",
        ]
    )
    assert options.auto_recover is False and options.dry_run is True
    assert options.approval == Path("approval.json").resolve()
    assert replan_arguments(options) == [
        "--env=staging",
        "--operator=ana",
        "--target-tag=stable-1",
        "--reason=500s en /checkout",
        "--severity=ALTO",
        "--users-affected=30.0",
        "--force-target",
    ]


@dataclass(frozen=True, kw_only=True)
class WithTicket(RunOptions):
    ticket: str | None = option("--ticket", "the incident's ticket", replan=True)


def test_an_option_added_in_one_line_reaches_pytest_the_cli_the_options_and_the_replan(
    tmp_path: Path,
) -> None:
    """Adding an option is the one line of WithTicket: its argparse and pytest options, its
    field filled from the command line, and the re-plan passing it on all follow."""
    options = parsed(["--ticket", "INC-4711", "--env=staging"], WithTicket)
    assert options.ticket == "INC-4711"
    assert "--ticket=INC-4711" in replan_arguments(options)
    (tmp_path / "conftest.py").write_text(
        "from rollbook.core.option_table import add_options, table\n"
        "from tests.unit.test_option_table import WithTicket\n"
        "def pytest_addoption(parser):\n"
        "    add_options(parser.getgroup('rollbook').addoption, table(WithTicket))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--ticket=TICKET" in shown and "--force-target" in shown


def test_a_watch_that_is_no_duration_is_refused_in_one_line() -> None:
    assert parsed(["--watch=30m"]).watch == 1800
    with pytest.raises(UserError, match="--watch 'soon' is not a duration"):
        parsed(["--watch=soon"])
