"""One option table (rollbook.core.option_table): pytest's options, an argparse command line,
RunOptions and the approval's re-plan all come from its rows."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from rollbook.core.errors import UserError
from rollbook.core.option_table import (
    OPTIONS,
    Option,
    add_options,
    replan_arguments,
    run_options,
)
from rollbook.core.run import RunOptions

ROOT = Path(__file__).resolve().parents[2]


def parsed(argv: list[str], table: list[Option] = OPTIONS) -> RunOptions:
    parser = argparse.ArgumentParser()
    add_options(parser.add_argument, table)
    values = vars(parser.parse_args(argv))
    return run_options(lambda flag: values[flag[2:].replace("-", "_")], "staging", "ana", table)


def test_every_run_option_is_a_row_of_the_table() -> None:
    filled = {option.field for option in OPTIONS if option.field}
    assert {field.name for field in fields(RunOptions)} - filled == set()


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
        "--target-tag=stable-1",
        "--reason=500s en /checkout",
        "--severity=ALTO",
        "--operator=ana",
        "--users-affected=30.0",
        "--force-target",
    ]


def test_a_row_added_reaches_the_command_line_the_options_and_the_replan() -> None:
    """Adding an option is a row: the argparse/pytest option, its field and the re-plan follow."""
    ticket = Option("--ticket", "the incident's ticket", "impact", replan=True)
    table = [o for o in OPTIONS if o.field != "impact"] + [ticket]
    options = parsed(["--ticket", "INC-4711"], table)
    assert options.impact == "INC-4711"
    assert "--ticket=INC-4711" in replan_arguments(options, table)
    assert "--impact=INC-4711" not in replan_arguments(options, table)


def test_a_watch_that_is_no_duration_is_refused_in_one_line() -> None:
    assert parsed(["--watch=30m"]).watch == 1800
    with pytest.raises(UserError, match="--watch 'soon' is not a duration"):
        parsed(["--watch=soon"])
