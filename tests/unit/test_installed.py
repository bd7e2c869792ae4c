"""core/installed.py prints `pip freeze --all`'s lines without starting pip, or exits 3 where its
lines would not be pip's: checked against pip itself in a real venv."""

import subprocess
import venv
from pathlib import Path

import pytest

from rollbook.core.resources import INSTALLED

# names and versions of the shapes real packages have: pip writes each as its metadata says
PLAIN = {
    "Django": "5.2.19",
    "typing_extensions": "4.16.0",
    "zope.interface": "7.2",
    "python-dateutil": "2.9.0.post0",
    "Pygments": "2.21.0",
    "rc-thing": "1.0rc1",
    "dev-thing": "2!3.0.dev4",
}


def _dist(site: Path, name: str, version: str, folder: str = "", **files: str) -> Path:
    info = site / f"{folder or name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for file, text in files.items():
        (info / file).write_text(text)
    return info


@pytest.fixture(scope="module")
def app_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv with pip (ensurepip) and distributions of each shape beside pip's own."""
    folder = tmp_path_factory.mktemp("venv")
    venv.create(folder, with_pip=True)
    site = next(folder.glob("lib/python*/site-packages"))
    for name, version in PLAIN.items():
        _dist(site, name, version)
    _dist(site, "argparse", "1.4.0")  # pip never lists it, even with --all
    return folder


def _listed(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [folder / "bin" / "python", "-c", INSTALLED],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )


def test_the_lines_are_pips_own(app_venv: Path) -> None:
    listed = _listed(app_venv)
    pip = subprocess.run(
        [app_venv / "bin" / "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert sorted(listed.stdout.split()) == sorted(pip.split())
    assert {f"{name}=={version}" for name, version in PLAIN.items()} <= set(listed.stdout.split())
    assert "argparse==1.4.0" not in listed.stdout


@pytest.mark.parametrize(
    ("name", "version", "files", "why"),
    [
        ("fromurl", "1.0", {"direct_url.json": '{"url": "file:///src"}'}, "from a URL"),
        ("oldstyle", "1.0-beta", {}, "not in canonical form"),
        ("locally", "1.0+Ubuntu.1", {}, "not in canonical form"),
        ("Django", "4.2", {}, "installed twice"),
    ],
)
def test_what_pip_writes_its_own_way_is_left_to_pip(
    app_venv: Path, name: str, version: str, files: dict[str, str], why: str
) -> None:
    site = next(app_venv.glob("lib/python*/site-packages"))
    info = _dist(site, name, version, **files)
    try:
        listed = _listed(app_venv)
    finally:
        for file in info.iterdir():
            file.unlink()
        info.rmdir()
    assert listed.returncode == 3, listed.stdout
    assert why in listed.stdout


def test_what_a_killed_uninstall_left_is_left_to_pip(app_venv: Path) -> None:
    """pip renames a folder it is removing to ~…; pip itself reads the name from the folder."""
    site = next(app_venv.glob("lib/python*/site-packages"))
    left = _dist(site, "Kombu", "5.3.0", folder="~ombu")
    try:
        listed = _listed(app_venv)
    finally:
        (left / "METADATA").unlink()
        left.rmdir()
    assert listed.returncode == 3 and "is not named for Kombu 5.3.0" in listed.stdout


def test_a_legacy_develop_install_is_left_to_pip(app_venv: Path) -> None:
    link = next(app_venv.glob("lib/python*/site-packages")) / "oldapp.egg-link"
    link.write_text("/src/oldapp\n.\n")
    try:
        listed = _listed(app_venv)
    finally:
        link.unlink()
    assert listed.returncode == 3 and "legacy develop installs" in listed.stdout


def test_a_pip_older_than_its_metadata_reading_is_left_to_pip(tmp_path: Path) -> None:
    venv.create(tmp_path, with_pip=False)
    site = next(tmp_path.glob("lib/python*/site-packages"))
    _dist(site, "pip", "22.0")
    listed = _listed(tmp_path)
    assert (listed.returncode, listed.stdout.strip()) == (3, "pip reads metadata another way here")
