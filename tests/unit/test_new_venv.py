"""Paso 3.2's two renames under app.force_reinstall: new_venv, and §9's way back, on real folders:
wherever a run died among the renames, §9 leaves the venv that ran before at the app's path."""

import subprocess
from pathlib import Path

import pytest

from rollbook.actions.new_venv import SWITCH, SWITCH_BACK, left_in_place


def sh(script: str, live: Path, aside: Path, staged: Path) -> int:
    done = subprocess.run(["sh", "-c", script, "sh", str(live), str(aside), str(staged)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.returncode


def venvs(tmp_path: Path) -> tuple[Path, Path, Path]:
    live, aside = tmp_path / "venv", tmp_path / "venv.before-x"
    staged = tmp_path / "venv.rollbook-x"
    live.mkdir()
    (live / "mark").write_text("before")
    staged.mkdir()
    (staged / "mark").write_text("target")
    return live, aside, staged


def test_the_switch_puts_the_new_venv_in_place_and_keeps_the_old_aside(tmp_path: Path) -> None:
    live, aside, staged = venvs(tmp_path)
    assert sh(SWITCH, live, aside, staged) == 0
    assert (live / "mark").read_text() == "target" and (aside / "mark").read_text() == "before"
    assert not staged.exists()


@pytest.mark.parametrize("died", ["before the first rename", "between the renames", "after both"])
def test_section_9_puts_back_the_venv_that_ran_before_wherever_the_run_died(
    tmp_path: Path, died: str
) -> None:
    live, aside, staged = venvs(tmp_path)
    if died != "before the first rename":
        live.rename(aside)
    if died == "after both":
        staged.rename(live)
    for _ in range(2):  # a §9 that died is run again
        assert sh(SWITCH_BACK, live, aside, staged) == 0
        assert (live / "mark").read_text() == "before", died
        assert not aside.exists() and (staged / "mark").read_text() == "target"


def test_the_switch_refuses_a_folder_already_at_the_aside_name(tmp_path: Path) -> None:
    live, aside, staged = venvs(tmp_path)
    aside.mkdir()
    assert sh(SWITCH, live, aside, staged) == 3
    assert (live / "mark").read_text() == "before" and (staged / "mark").read_text() == "target"


LIVE = ["Django==5.2.19", "humanize==4.17.0", "pip==24.0", "setuptools==65.5.0", "wheel==0.43.0"]
NEW = ["Django==4.2.16", "pip==23.2.1"]  # a venv of Python 3.12: no setuptools, no wheel


def test_without_a_record_every_package_the_new_venv_lacks_stays_as_in_place() -> None:
    assert left_in_place(LIVE, NEW, None) == [
        "humanize==4.17.0", "setuptools==65.5.0", "wheel==0.43.0",
    ]  # fmt: skip


def test_with_a_record_only_the_packaging_tools_it_does_not_list_stay() -> None:
    assert left_in_place(LIVE, NEW, ["Django==4.2.16"]) == ["setuptools==65.5.0", "wheel==0.43.0"]
    # a record naming a packaging tool is the whole set: in place, Paso 3.2 removes the rest
    assert left_in_place(LIVE, NEW, ["Django==4.2.16", "pip==23.2.1"]) == []
