"""A variant of environments/sandbox.yaml in another folder, for tests and the benchmark.

The copy's relative paths are made absolute (pip's `--find-links=../../`, relative to the
checkout where pip runs, is kept); the engine reads it when $ROLLBOOK_ENVIRONMENTS names the folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rollbook.core.config import ENVIRONMENTS_DIR

ROOT = ENVIRONMENTS_DIR.parent


def write_variant(
    parent: Path,
    change: Callable[[dict[str, Any]], None] | None,
    text: str | None = None,
    extending: tuple[str, ...] = (),
) -> dict[str, str]:
    """<parent>/environments/sandbox.yaml changed by `change` (or `text` as is), and beside it
    copies of the environments `extending` it (e.g. sandbox-systemd); the variables that make the
    engine read them."""
    folder = parent / "environments"
    folder.mkdir(parents=True, exist_ok=True)
    source = _absolute((ENVIRONMENTS_DIR / "sandbox.yaml").read_text())
    if text is None:
        data = yaml.safe_load(source)
        if change:
            change(data)
        text = yaml.safe_dump(data)
    (folder / "sandbox.yaml").write_text(text)
    for name in extending:
        (folder / f"{name}.yaml").write_text(
            _absolute((ENVIRONMENTS_DIR / f"{name}.yaml").read_text())
        )
    return {"ROLLBOOK_ENVIRONMENTS": str(folder)}


def _absolute(text: str) -> str:
    """An environment file's `../` paths (relative to environments/) made absolute, host specs'
    ssh_config= and ssh_identity_file= too; pip's `--find-links=../../` stays (relative to the
    checkout, where pip runs)."""
    return re.sub(r"(?:(?<=[\s\[:])|(?<=_config=)|(?<=_file=))\.\./", f"{ROOT}/", text)


def fast_options(data: dict[str, Any]) -> None:
    """Issue 7's fast options: Paso 3.2 asks pip before reinstalling, the database is swapped."""
    data["app"]["force_reinstall"] = "when_needed"
    data["database"]["restore_strategy"] = "swap"
