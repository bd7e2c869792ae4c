"""Requirements read the way pip reads them, and package sets compared the way they were taken."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rollbook.actions import dependencies
from rollbook.actions.dependencies import comparable, set_difference
from rollbook.actions.requirements import local_code, logical_lines, pinned, pins_of
from rollbook.core.errors import StepFailed
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.core.state import Target, TargetResolved
from tests.unit.git_repo import IDENTITY, git
from tests.unit.local_run import local_host, local_run


def test_pins_options_hashes_markers_and_continuations() -> None:
    text = """# the app
Django==5.2.19 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
psycopg[binary]==3.3.9 ; python_version >= "3.10"
celery>=5            # not a pin
django-rest_x == 1.0
gunicorn @ https://example.invalid/gunicorn-1.0.tar.gz
-e git+https://example.invalid/x.git#egg=x
--index-url https://example.invalid/simple
-r requirements/base.txt
--constraint=constraints.txt
"""
    pins, includes = pins_of(text)
    assert pins == {"django": "5.2.19", "psycopg": "3.3.9", "django-rest-x": "1.0"}
    assert includes == ["requirements/base.txt", "constraints.txt"]


def test_includes_and_constraints_followed_relative_to_their_file(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "requirements").mkdir(parents=True)
    (app / "requirements.txt").write_text("-r requirements/production.txt\n")
    (app / "requirements" / "production.txt").write_text("-r base.txt\ngunicorn==23.0.0\n")
    (app / "requirements" / "base.txt").write_text(
        "Django==5.2.19\ncelery\n-c ../constraints.txt\n-r production.txt\n"
    )
    (app / "constraints.txt").write_text("kombu==5.7.0\n")
    host = local_host(tmp_path / "journal")
    assert pinned(host, str(app / "requirements.txt")) == {
        "gunicorn": "23.0.0",
        "django": "5.2.19",
        "kombu": "5.7.0",
    }
    (app / "constraints.txt").unlink()
    with pytest.raises(StepFailed, match=r"cannot read the requirements file .*constraints.txt"):
        pinned(host, str(app / "requirements.txt"))


FULL = ["Django==5.2.19", "pip==23.2.1", "setuptools==65.5.0", "wheel==0.45.1"]


def test_an_older_record_without_packaging_tools_compares_without_them() -> None:
    """Ledger entries taken with plain `pip freeze` hold no pip/setuptools/wheel: they are not
    'unexpected', and nothing uninstalls them."""
    old = ["Django==5.2.19"]
    assert comparable(FULL, old) == ["Django==5.2.19"]
    assert set_difference(FULL, old) == ([], [])
    assert set_difference(FULL, FULL) == ([], [])
    newer_setuptools = [*FULL[:2], "setuptools==84.0.0", FULL[3]]
    assert set_difference(newer_setuptools, FULL) == (
        ["setuptools==65.5.0"],
        ["setuptools==84.0.0"],
    )


def test_the_targets_install_is_resolved_from_its_tag_before_any_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paso 1.2 asks pip (--dry-run) about the target's requirements as committed at its tag,
    includes too, while the checkout is still at the deployed release."""
    run = local_run(tmp_path, monkeypatch)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    pip = subprocess.run(
        [str(tmp_path / "venv/bin/pip"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    app = tmp_path / "app"
    git(app, "init", "-q")
    (app / "requirements").mkdir()
    (app / "requirements.txt").write_text("-r requirements/base.txt\n")
    for tag, pin in (("deploy-ok", f"pip=={pip}"), ("deploy-bad", "no-such-package-4711==1.0")):
        (app / "requirements" / "base.txt").write_text(f"{pin}\n")
        git(app, "add", "-A")
        git(app, *IDENTITY, "commit", "-q", "-m", tag)
        git(app, "tag", tag)
    (app / "requirements.txt").write_text("# the deployed release: nothing\n")  # not the target's
    offline = ["--no-index", f"--find-links={tmp_path / 'wheels'}"]
    (tmp_path / "wheels").mkdir()
    app_config = run.site.env.app.model_copy(
        update={"pip_options": offline, "force_reinstall": "when_needed"}
    )
    run.site.env = run.site.env.model_copy(update={"app": app_config})
    run.records.keep(Target("deploy-ok", "a" * 40, 0, "named by the test"))
    assert dependencies.resolve_target(run.incident, run.site, run.records) == {
        "local://": {
            "ok": True,
            "said": "pip resolves the install: 0 packages to install",
            "count": 0,
            "install": [],
        }
    }
    run.records.keep(Target("deploy-bad", "a" * 40, 0, "named by the test"))
    [refused] = dependencies.resolve_target(run.incident, run.site, run.records).values()
    assert refused["ok"] is False
    assert re.search(
        r"pip cannot install the target deploy-bad's packages \(requirements\): "
        r".*no-such-package-4711==1.0.* nothing was changed",
        str(refused["said"]),
    )


def wheel(
    folder: Path, name: str, version: str, *requires: str, files: dict[str, str] | None = None
) -> None:
    """A minimal real wheel (pip installs it offline), with `files` in it besides."""
    info = f"{name}-{version}.dist-info"
    files = {
        **(files or {}),
        f"{name}/__init__.py": "",
        f"{info}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def test_holding_what_the_target_does_not_pin_must_not_make_it_unresolvable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The target pins rb-a 1.0, which needs rb-b 1.0; the venv has rb-b 2.0, which the target
    does not pin: holding it would make the install impossible, so Paso 1.2 resolves without
    holding and says so, and Paso 3.2 will do the same. A target that conflicts with itself is
    refused."""
    run = local_run(tmp_path, monkeypatch)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "rb_a", "1.0", "rb-b==1.0")
    for version in ("1.0", "2.0"):
        wheel(wheels, "rb_b", version)
    offline = ["--no-index", f"--find-links={wheels}"]
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    subprocess.run(
        [str(tmp_path / "venv/bin/pip"), "install", "-q", *offline, "rb-b==2.0"], check=True
    )
    app = tmp_path / "app"
    git(app, "init", "-q")
    for tag, text in (("deploy-2", "rb-a==1.0\n"), ("deploy-3", "rb-a==1.0\nrb-b==2.0\n")):
        (app / "requirements.txt").write_text(text)
        git(app, "add", "-A")
        git(app, *IDENTITY, "commit", "-q", "-m", tag)
        git(app, "tag", tag)
    app_config = run.site.env.app.model_copy(
        update={"pip_options": offline, "force_reinstall": "when_needed"}
    )
    run.site.env = run.site.env.model_copy(update={"app": app_config})
    run.records.keep(Target("deploy-2", "a" * 40, 0, "named by the test"))
    [answer] = dependencies.resolve_target(run.incident, run.site, run.records).values()
    said = str(answer["said"])
    assert said.startswith("pip resolves the install without holding the unpinned packages"), said
    assert answer["ok"] and said.endswith(": 2 packages to install"), said
    assert run.records.need(TargetResolved).unheld == ["local://"]
    run.records.keep(Target("deploy-3", "a" * 40, 0, "named by the test"))
    [refused] = dependencies.resolve_target(run.incident, run.site, run.records).values()
    assert refused["ok"] is False
    assert re.search(
        r"pip cannot install the target deploy-3's packages.*conflicting "
        r"dependencies.* nothing was changed",
        str(refused["said"]),
    )


def _pip_dry_runs(run: Run) -> int:
    events = read_journal(run.incident.journal.path)
    return sum(1 for e in events if e["event"] == "command" and "--dry-run" in e["argv"])


def test_paso_3_2_takes_paso_1_2s_answer_while_the_venv_is_the_one_it_asked_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the target's recorded set (ledger) and `when_needed`, Paso 1.2's dry-run is the
    install Paso 3.2 would ask about: reused while the venv's package set is unchanged, asked
    again once it changed."""
    run = local_run(tmp_path, monkeypatch)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("rb_a", "rb_b"):
        wheel(wheels, name, "1.0")
    offline = ["--no-index", f"--find-links={wheels}"]
    pip = str(tmp_path / "venv/bin/pip")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    subprocess.run([pip, "install", "-q", *offline, "rb-b==1.0"], check=True)
    recorded = subprocess.run(
        [pip, "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout.split()
    app_config = run.site.env.app.model_copy(
        update={"pip_options": offline, "force_reinstall": "when_needed"}
    )
    run.site.env = run.site.env.model_copy(update={"app": app_config})
    run.records.keep(Target("deploy-1", "a" * 40, 0, "named by the test", packages=recorded))
    [answer] = dependencies.resolve_target(run.incident, run.site, run.records).values()
    assert answer["count"] == 0 and _pip_dry_runs(run) == 1, answer

    def skipped() -> str:
        [noted, *_] = [
            e["value"]
            for e in reversed(list(read_journal(run.incident.journal.path)))
            if e["event"] == "fact" and e["key"] == "packages_installed"
        ]
        return str(noted["skipped"].get("local://"))

    dependencies.install_requirements(run.incident, run.site, run.records)
    assert _pip_dry_runs(run) == 1
    assert skipped().startswith("pip install --dry-run of Paso 1.2 (the venv unchanged since)")
    subprocess.run([pip, "install", "-q", "--no-deps", *offline, "rb-a==1.0"], check=True)
    dependencies.install_requirements(run.incident, run.site, run.records)  # another venv now
    assert _pip_dry_runs(run) == 2
    assert skipped().startswith("pip install --dry-run: the venv already satisfies")
    assert (
        "rb-a==1.0"
        not in subprocess.run([pip, "freeze"], capture_output=True, text=True, check=True).stdout
    )  # what the record lacks: gone


def test_lines_that_install_the_checkouts_own_code_are_told_apart() -> None:
    lines = logical_lines(
        "Django==5.2.19\n-e .\n--editable=./libs/x\n./libs/y\n/srv/wheels/z-1.0-py3-none-any.whl\n"
        "file:///srv/src/w\nmyapp @ file:///srv/app\ngunicorn @ https://example.invalid/g.tar.gz\n"
        "-e git+https://example.invalid/x.git#egg=x\n-r requirements/base.txt\n-e.\n"
        "libs/pkg\nvendor/x-1.0-py3-none-any.whl\nother@file:///srv/o\n"
        "git+https://example.invalid/v.git#egg=v\nhttps://example.invalid/u-1.0.tar.gz\n"
        'psycopg[binary]==3.3.9 ; python_version >= "3.10"\n--find-links ./wheels\n'
        "Django==5.2.19 --hash=sha256:aaaa\n--index-url https://example.invalid/simple\n"
    )
    assert local_code(lines) == [
        "-e .",
        "--editable=./libs/x",
        "./libs/y",
        "/srv/wheels/z-1.0-py3-none-any.whl",
        "file:///srv/src/w",
        "myapp @ file:///srv/app",
        "-e git+https://example.invalid/x.git#egg=x",
        "-e.",
        "libs/pkg",
        "vendor/x-1.0-py3-none-any.whl",
        "other@file:///srv/o",
    ]
