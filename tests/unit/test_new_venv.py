"""Paso 3.2's two renames under app.force_reinstall: new_venv, and §9's way back, on real folders:
wherever a run died among the renames, §9 leaves the venv that ran before at the app's path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollbook.actions.new_venv import (
    INSPECT,
    SWITCH,
    SWITCH_BACK,
    left_in_place,
    unsuitable,
    venv_command,
)
from rollbook.sandbox.appvenv import put_back_aside


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


def inspect(python: Path, live: Path, *names: Path) -> dict:
    done = subprocess.run([str(python), "-c", INSPECT, str(live), *map(str, names)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def test_a_venv_in_a_writable_folder_with_room_gets_a_new_one_beside_it(tmp_path: Path) -> None:
    live = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(live)], check=True)
    found = inspect(live / "bin" / "python", live, tmp_path / "venv.rollbook-x")
    assert Path(found["base"]).is_file() and not found["link"] and found["writable"]
    assert found["taken"] == [] and 0 < found["size"] < found["free"]
    assert unsuitable(found, str(live)) is None
    assert venv_command(found, str(live))[:3] == [found["base"], "-m", "venv"]


def test_a_host_that_cannot_take_a_second_venv_is_named_with_the_reason(tmp_path: Path) -> None:
    real = tmp_path / "real"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(real)], check=True)
    link = tmp_path / "venv"
    link.symlink_to(real)
    left = tmp_path / "venv.rollbook-x"
    left.mkdir()
    found = inspect(link / "bin" / "python", link, left)
    assert found["link"] and found["taken"] == [str(left)]
    assert "symbolic link" in str(unsuitable(found, str(link)))
    ok = found | {"link": False, "taken": []}
    assert unsuitable(ok, str(link)) is None
    assert "cannot create a folder in" in str(unsuitable(ok | {"writable": False}, str(link)))
    assert "exists already" in str(unsuitable(found | {"link": False}, str(link)))
    assert "no base Python" in str(unsuitable(ok | {"base": ""}, str(link)))
    tight = ok | {"size": 300 * 2**20, "free": 500 * 2**20}
    assert "500 MiB free" in str(unsuitable(tight, str(link)))


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_the_sandbox_reset_renames_the_venv_a_rollback_set_aside_back(tmp_path: Path) -> None:
    live, aside, staged = venvs(tmp_path)
    assert sh(SWITCH, live, aside, staged) == 0
    (live / "lib" / "__pycache__").mkdir(parents=True)
    (live / "lib" / "__pycache__" / "m.pyc").write_text("target's bytecode")
    (tmp_path / "venv.rollbook-y").mkdir()  # a build a run left
    put_back_aside(live)
    assert tree(live) == {"mark": "before"} and sorted(os.listdir(tmp_path)) == ["venv"]
    # two rollbacks without a reset: which one ran first is not the reset's guess, both go (the
    # reset then puts the start state's packages back with pip)
    for name in ("venv.before-a", "venv.before-b"):
        (tmp_path / name).mkdir()
    put_back_aside(live)
    assert tree(live) == {"mark": "before"} and sorted(os.listdir(tmp_path)) == ["venv"]
