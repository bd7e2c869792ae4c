"""The wheelhouse: every package of every release, downloaded once; installs then stay offline.

Like a site's internal mirror, it fixes the universe pip resolves in, so a later
`pip install --force-reinstall -r requirements.txt` cannot drift to newer transitive releases.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys

from rollbook.sandbox import instance
from rollbook.sandbox.app_user import base_python
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.seeded_ledger import HELD_BACK
from rollbook.sandbox.shell import say

COMPLETE_MARKER = ".complete"


def _from_pypi() -> dict[str, str]:
    """pip's own configuration set aside: a venv's pip.conf points at the wheelhouse being made."""
    return {**os.environ, "PIP_CONFIG_FILE": os.devnull}


def ensure_wheelhouse(
    layout: Layout, requirement_sets: list[str], python: str = sys.executable
) -> None:
    """Download each release's requirements (pins may conflict between releases) once, with
    `python`'s pip: markers (python_full_version …) are the venv's. A profile whose app runs as
    its own user passes its venv's Python (made from the system's: app_user.base_python)."""
    releases = [*sorted(set(requirement_sets)), HELD_BACK]  # two versions of that one
    digest = hashlib.sha256("\0".join([*releases, base_python(layout)]).encode()).hexdigest()
    marker = layout.wheelhouse / COMPLETE_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8") == digest:
        return
    for other in sorted(instance.REPO.glob(".sandbox*/wheelhouse")):  # another instance's
        done = other / COMPLETE_MARKER
        if other != layout.wheelhouse and done.is_file() and done.read_text() == digest:
            say(f"linking the app's packages from {other} into {layout.wheelhouse} ...")
            shutil.copytree(other, layout.wheelhouse, copy_function=os.link, dirs_exist_ok=True)
            return
    say(f"downloading the app's packages into {layout.wheelhouse} (once) ...")
    layout.wheelhouse.mkdir(parents=True, exist_ok=True)
    for number, requirements in enumerate(releases, start=1):
        listing = layout.wheelhouse / f"requirements-{number}.txt"
        listing.write_text(requirements + "\n", encoding="utf-8")
        layout.shell.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--dest",
                layout.wheelhouse,
                "-r",
                listing,
            ],
            env=_from_pypi(),
        )
    # a release published as source only is built once, as a site's mirror serves wheels: the
    # installs stay offline (building needs its build tools from PyPI)
    for source in sorted(layout.wheelhouse.glob("*.tar.gz")) + sorted(
        layout.wheelhouse.glob("*.zip")
    ):
        say(f"building a wheel of {source.name} ...")
        layout.shell.run(
            [
                python,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--use-pep517",
                "--disable-pip-version-check",
                "--wheel-dir",
                layout.wheelhouse,
                source,
            ],
            env=_from_pypi(),
        )
        source.unlink()
    marker.write_text(digest, encoding="utf-8")
