"""A database's migration history as Django's `migrate` sees it: a squashed migration and the
migrations it replaces are one history — the squash counts as applied when it is recorded, or
when every migration it replaces is (applying a squash records it *and* every name it replaces;
a database migrated before the squash existed holds only the replaced names)."""

from __future__ import annotations

import json
from pathlib import Path

from rollbook.core.errors import StepFailed
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from rollbook.core.state import MigrationTrees, Squashes

IN_APP = Path(__file__).parents[1] / "in_app"
LABELS = (IN_APP / "labels.py").read_text()  # sent ahead of the scripts that name migrations
TREES = LABELS + (IN_APP / "trees.py").read_text()


def trees(records: Records, tree: Checkout, venv: Venv, refs: list[str]) -> MigrationTrees:
    """The migrations of the releases `refs` (by app label) and their squashes, read from their
    trees on the host in one call (rollbook/actions/in_app/trees.py, with the app's Python) —
    or as an earlier Paso of this run already read them."""
    known = records.known(MigrationTrees)
    if known is not None and set(refs) <= set(known.migrations):
        return known
    out = tree.host.run(
        [venv.tool("python"), "-c", TREES, tree.path, *refs], mutating=False, app=True
    )
    try:
        found = json.loads(out.stdout)
    except ValueError:
        raise StepFailed(f"the releases' migrations were not read: {out.stdout[-300:]}") from None
    return records.keep(
        MigrationTrees(
            {
                str(ref): None if names is None else [str(n) for n in names]
                for ref, names in found["migrations"].items()
            },
            {str(squash): [str(n) for n in names] for squash, names in found["squashes"].items()},
        )
    )


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
