"""A database's migration history as Django's `migrate` sees it: a squashed migration and the
migrations it replaces are one history — the squash counts as applied when it is recorded, or
when every migration it replaces is (applying a squash records it *and* every name it replaces;
a database migrated before the squash existed holds only the replaced names)."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlparse

from rollbook.actions.requirements import normalize
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from rollbook.core.state import MigrationTrees, PackageMigrations, Squashes, TargetResolved

_IN_APP = Path(__file__).parent / "in_app"
LABELS = (_IN_APP / "labels.py").read_text()
TREES = LABELS + (_IN_APP / "trees.py").read_text()
PACKAGES = LABELS + (_IN_APP / "packages.py").read_text()


def trees(records: Records, tree: Checkout, venv: Venv, refs: list[str]) -> MigrationTrees:
    """The migrations of the releases `refs` (by app label) and their squashes, read from their
    trees on the host in one call (rollbook/actions/in_app/trees.py, with the app's Python) —
    or as an earlier Paso of this run already read them."""
    known = records.known(MigrationTrees)
    if known is not None and set(refs) <= set(known.migrations):
        return known
    out = tree.host.run([venv.tool("python"), "-c", TREES, tree.path, *refs], mutating=False)
    try:
        found = json.loads(out.stdout)
    except ValueError:
        raise StepFailed(f"the releases' migrations were not read: {out.stdout[-300:]}") from None
    return records.keep(MigrationTrees(
        {str(ref): None if names is None else [str(n) for n in names]
         for ref, names in found["migrations"].items()},
        {str(squash): [str(n) for n in names] for squash, names in found["squashes"].items()},
    ))  # fmt: skip


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


def packages(records: Records, venv: Venv, env: Environment) -> PackageMigrations:
    """The migrations that live in the venv's packages, now and once Paso 3.2 installed the
    target's (what Paso 1.2's pip dry-run said it installs: a version that changes is read from
    its wheel — the mirror's file, else downloaded into this run's private folder), read on the
    host in one call (rollbook/actions/in_app/packages.py) — or as an earlier Paso read them."""
    known = records.known(PackageMigrations)
    if known is not None:
        return known
    host = venv.host
    resolved = records.known(TargetResolved)
    install = (resolved.hosts.get(host.spec, {}).get("install") if resolved else None) or []
    if not install and not (resolved and resolved.hosts.get(host.spec, {}).get("ok")):
        unread = {"*": "pip's dry-run of the target's install (Paso 1.2) did not answer"}
    else:
        unread = {}
    versions = {normalize(line.split("==")[0]): line.split("==")[1]
                for line in venv.freeze() if "==" in line}  # fmt: skip
    changed = {normalize(name): (version, url) for name, version, url in install
               if versions.get(normalize(name)) != version}  # fmt: skip
    wheels = {name: unquote(urlparse(url).path) for name, (_, url) in changed.items()
              if url.startswith("file:") and url.endswith(".whl")}  # fmt: skip
    fetch = [f"{name}=={version}" for name, (version, _) in changed.items() if name not in wheels]
    if fetch:
        got, why = _download(venv, env, fetch)
        wheels.update(got)
        unread.update({f"{name}=={changed[name][0]}": why for name in changed
                       if name not in wheels})  # fmt: skip
    out = host.run([venv.tool("python"), "-c", PACKAGES, json.dumps(wheels)], mutating=False)
    try:
        found = json.loads(out.stdout)
    except ValueError:
        raise StepFailed(f"the packages' migrations were not read: {out.stdout[-300:]}") from None
    now = found["installed"]
    kept = [m for name, dist in now.items() if name not in changed for m in dist["migrations"]]
    fresh = [m for dist in found["wheels"].values() for m in dist["migrations"]]
    return records.keep(PackageMigrations(
        sorted({m for dist in now.values() for m in dist["migrations"]}),
        sorted(set(kept) | set(fresh)),
        {str(squash): [str(n) for n in names] for squash, names in found["squashes"].items()},
        unread,
    ))  # fmt: skip


def _download(venv: Venv, env: Environment, wanted: list[str]) -> tuple[dict[str, str], str]:
    """The wheels of `wanted` (name==version), downloaded without their dependencies into this
    run's private folder on the host: ({name: path}, pip's words when some are missing)."""
    listing = venv.host.private_file("wheels-wanted.txt", "\n".join(wanted) + "\n")
    folder = posixpath.join(posixpath.dirname(listing), "wheels")
    said = _pip_download(venv, env, folder, ["-r", listing])
    if said:  # one wheel missing fails the whole call: each package on its own
        said = " | ".join(filter(None, (_pip_download(venv, env, folder, [w]) for w in wanted)))
    listed = venv.host.run(["ls", "-1", folder], mutating=False, check=False).stdout.split()
    got = {normalize(name.split("-")[0]): posixpath.join(folder, name)
           for name in listed if name.endswith(".whl")}  # fmt: skip
    return got, f"{said or 'no wheel'} (pip download --only-binary=:all:)"


def _pip_download(venv: Venv, env: Environment, folder: str, args: list[str]) -> str:
    """pip download of `args` into `folder`: "" when it worked, else pip's last line."""
    # writes only into the run's private folder (like its pgpass): not a change to the system
    done = venv.pip("download", "--disable-pip-version-check", "--quiet", "--no-deps",
                    "--only-binary=:all:", "--dest", folder, *env.app.pip_options, *args,
                    mutating=False, timeout=env.timeouts.install, check=False)  # fmt: skip
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return "" if done.ok else (lines[-1] if lines else f"pip exited {done.returncode}")
