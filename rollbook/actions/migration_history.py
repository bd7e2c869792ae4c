"""A database's migration history as Django's `migrate` sees it: a squashed migration and the
migrations it replaces are one history — the squash counts as applied when it is recorded, or
when every migration it replaces is (applying a squash records it *and* every name it replaces;
a database migrated before the squash existed holds only the replaced names)."""

from __future__ import annotations

import json
from pathlib import Path

from rollbook.core.errors import StepFailed
from rollbook.core.resources import Checkout, Venv

REPLACES = (Path(__file__).parent / "in_app" / "replaces.py").read_text()
Squashes = dict[str, list[str]]  # "app.squash" → the "app.name"s it replaces


def squashes(tree: Checkout, venv: Venv, refs: list[str]) -> Squashes:
    """Every squashed migration of the releases `refs` and what it replaces, read from their
    trees on the host (rollbook/actions/in_app/replaces.py, with the app's Python)."""
    out = tree.host.run([venv.tool("python"), "-c", REPLACES, tree.path, *refs], mutating=False)
    try:
        found = json.loads(out.stdout)
    except ValueError:
        raise StepFailed(f"the squashed migrations were not read: {out.stdout[-300:]}") from None
    return {str(squash): [str(name) for name in names] for squash, names in found.items()}


def as_migrate_sees(names: set[str] | list[str], squashed: Squashes) -> set[str]:
    """`names` (recorded rows, or a tree's migration files) with each squash in place of the
    migrations it replaces, wherever the squash counts as applied; a squash of squashes too."""
    seen = set(names)
    for _ in range(len(squashed) + 1):  # a squash of squashes needs another pass
        changed = False
        for squash, replaced in squashed.items():
            recorded = squash in seen and not seen.isdisjoint(replaced)
            if replaced and (recorded or (squash not in seen and set(replaced) <= seen)):
                seen = (seen - set(replaced)) | {squash}
                changed = True
        if not changed:
            break
    return seen
