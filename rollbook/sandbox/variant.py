"""A variant of environments/sandbox.yaml in another folder, for tests and the benchmark.

The copy is the current sandbox instance's, its relative paths made absolute (pip's
`--find-links=../../`, relative to the checkout where pip runs, is kept); the engine reads it when
$ROLLBOOK_ENVIRONMENTS names the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rollbook.core.config import ENVIRONMENTS_DIR
from rollbook.sandbox import instance


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
    source = _absolute((ENVIRONMENTS_DIR / "sandbox.yaml").read_text())  # this instance's
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
    """An environment file of environments/ as the current sandbox instance's, every path
    absolute (rollbook.sandbox.instance)."""
    return instance.shifted(text, instance.current())


def restoring(data: dict[str, Any]) -> None:
    """Etapa 4 restores the backup: the procedure as written (`database.rollback: restore`), not
    the default `least_loss`, which on the sandbox's release pair reverses the deployed migration
    and restores nothing."""
    data["database"]["rollback"] = "restore"


def fast_options(data: dict[str, Any]) -> None:
    """Issue 7's fast options: Paso 3.2 asks pip before reinstalling, the database is swapped."""
    data["app"]["force_reinstall"] = "when_needed"
    data["database"]["restore_strategy"] = "swap"
