"""Paso 3.2's two renames under app.force_reinstall: new_venv, and §9's way back, on real folders:
wherever a run died among the renames, §9 leaves the venv that ran before at the app's path."""

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollbook.actions.new_venv import (
    _RELOCATE,
    INSPECT,
    RECORDED_FILES,
    SWITCH,
    SWITCH_BACK,
    unsuitable,
)
from rollbook.sandbox.appvenv import put_back_aside


def sh(script: str, live: Path, aside: Path, staged: Path) -> int:
    done = subprocess.run(
        ["sh", "-c", script, "sh", str(live), str(aside), str(staged)],
        capture_output=True,
        text=True,
        check=False,
    )
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


def inspect(python: Path, live: Path, *names: Path) -> dict:
    done = subprocess.run(
        [str(python), "-c", INSPECT, str(live), *map(str, names)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_venv_in_a_writable_folder_with_room_gets_a_new_one_beside_it(tmp_path: Path) -> None:
    live = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(live)], check=True)
    found = inspect(live / "bin" / "python", live, tmp_path / "venv.rollbook-x")
    assert not found["link"] and found["writable"]
    assert found["taken"] == [] and 0 < found["size"] < found["free"]
    assert unsuitable(found, str(live)) is None


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


def installed(venv: Path, files: dict[str, str]) -> Path:
    """A distribution `demo 1.0` in `venv`'s site-packages as pip leaves it: its files (paths
    relative to site-packages) and a RECORD with their sha256 and sizes."""
    site = next(venv.glob("lib/python*/site-packages"))
    info = site / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    rows = []
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        rows.append(f"{name},sha256={digest.decode()},{len(text)}")
    (info / "RECORD").write_text("\n".join([*rows, "demo-1.0.dist-info/RECORD,,"]) + "\n")
    return site


def damaged(venv: Path) -> dict:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", RECORDED_FILES],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["damaged"]


def test_a_file_that_is_not_what_its_wheel_installed_is_named(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = installed(venv, {"demo/__init__.py": "VERSION = 1\n", "demo/core.py": "x = 1\n"})
    assert damaged(venv) == {}
    (site / "demo" / "core.py").write_text("x = 2\n")  # same size, other bytes
    assert damaged(venv) == {"demo==1.0": ["demo/core.py (differs)"]}
    (site / "demo" / "__init__.py").unlink()
    assert damaged(venv) == {
        "demo==1.0": ["demo/__init__.py (No such file or directory)", "demo/core.py (differs)"]
    }


def test_the_copys_scripts_name_the_apps_venv_and_their_record_says_so(tmp_path: Path) -> None:
    staged, live = tmp_path / "venv.rollbook-x", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(staged)], check=True)
    script = f"#!{staged}/bin/python\nimport demo\n"
    installed(staged, {"demo/__init__.py": "", "../../../bin/demo": script})
    done = subprocess.run(
        [str(staged / "bin" / "python"), "-c", _RELOCATE, str(staged), str(live)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split()[1] == "0"  # nothing in bin/ names the copy any more
    assert (staged / "bin" / "demo").read_text() == f"#!{live}/bin/python\nimport demo\n"
    assert damaged(staged) == {}  # its RECORD row has the rewritten file's sha256
