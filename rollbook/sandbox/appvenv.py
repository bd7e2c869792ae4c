"""The deployed app's venv: created once, installing only from the wheelhouse (its pip.conf).

The start state's package set is saved; `reset` puts back exactly what a rollback changed
(`pip install --no-deps` of the saved versions, `pip uninstall` of what it added), and recreates
the venv from the wheelhouse if that did not bring the set back.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from rollbook.sandbox.app_user import base_python
from rollbook.sandbox.application import app_environment
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.shell import say

SNAPSHOT = "venv-packages.json"
CONSTRAINTS = "venv-constraints.txt"
LIST_PACKAGES = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ensure_venv(layout: Layout, python: str | None = None) -> None:
    if not (layout.venv / "bin" / "python").is_file():
        say(f"creating the app's venv in {layout.venv} ...")
        layout.shell.run([python or base_python(layout), "-m", "venv", layout.venv])
    (layout.venv / "pip.conf").write_text(
        "# Installs come from the sandbox's wheelhouse only, like a site's internal mirror.\n"
        f"[global]\nno-index = true\nfind-links = {layout.wheelhouse}\n"
        "disable-pip-version-check = true\n",
        encoding="utf-8",
    )


def _pip(layout: Layout, *args: str, check: bool = True) -> None:
    layout.shell.run(
        [layout.venv / "bin" / "python", "-m", "pip", *args],
        cwd=layout.app,
        env=app_environment(layout),
        check=check,
    )


def pip_install(layout: Layout, *args: str) -> None:
    _pip(layout, "install", "--quiet", "-r", layout.env.app.requirements, *args)


def install_requirements(layout: Layout, *extra: str) -> None:
    say(f"installing {layout.env.app.requirements} into the app's venv (offline) ...")
    pip_install(layout, *extra)


def packages(layout: Layout) -> dict[str, str]:
    """{normalised name: version} of everything installed in the app's venv."""
    listing = layout.shell.run([layout.venv / "bin" / "python", "-c", LIST_PACKAGES]).stdout
    return {_normalise(name): version for name, version in json.loads(listing).items()}


def save_snapshot(layout: Layout) -> None:
    layout.state.mkdir(parents=True, exist_ok=True)
    current = packages(layout)
    (layout.state / SNAPSHOT).write_text(json.dumps(current, indent=1), encoding="utf-8")
    pins = "".join(f"{name}=={version}\n" for name, version in sorted(current.items()))
    (layout.state / CONSTRAINTS).write_text(pins, encoding="utf-8")


def put_back_aside(venv: Path) -> None:
    """The venvs a rollback built beside `venv` (app.force_reinstall: new_venv) removed; where
    one rollback set the start state's venv aside (`<venv>.before-<id>`), it is renamed back
    into place: no reinstall, and the fleet's mirror finds its files unchanged. Before the reset's
    `git clean` of the checkout, where the venv may live (it would empty an untracked venv but
    for its ignored bytecode)."""
    for left in venv.parent.glob(f"{venv.name}.rollbook-*"):
        shutil.rmtree(left)
    aside = sorted(venv.parent.glob(f"{venv.name}.before-*"))
    if len(aside) == 1:
        shutil.rmtree(venv, ignore_errors=True)
        aside[0].rename(venv)
        return
    for left in aside:  # more than one rollback without a reset: the packages are put back
        shutil.rmtree(left)


def restore_venv(layout: Layout) -> None:
    """Bring the venv back to the start state's packages, only if a rollback changed them."""
    saved = json.loads((layout.state / SNAPSHOT).read_text(encoding="utf-8"))
    now = packages(layout)
    if now == saved:
        return
    wrong = sorted(
        f"{name}=={version}" for name, version in saved.items() if now.get(name) != version
    )
    extra = sorted(set(now) - set(saved))
    say(f"the app's venv changed: {', '.join(wrong + [f'-{name}' for name in extra])} ...")
    # exactly the start state's versions, nothing to resolve; what fails is caught below
    if wrong:
        _pip(layout, "install", "--quiet", "--no-deps", *wrong, check=False)
    if extra:
        _pip(layout, "uninstall", "--quiet", "--yes", *extra, check=False)
    if packages(layout) == saved:
        return
    say("the app's venv still differs: recreating it from the wheelhouse ...")
    shutil.rmtree(layout.venv)
    ensure_venv(layout)
    pip_install(layout, "-c", str(layout.state / CONSTRAINTS))
