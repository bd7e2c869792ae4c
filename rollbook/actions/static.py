"""Paso 3.3 — the app's static files: its own build steps (default collectstatic), and the
snapshot of the static root taken before Etapa 3 that §9 puts back exactly (re-running a pipeline
may not give the same files: offline bundles, manifests, built assets)."""

from __future__ import annotations

import json
import posixpath
import shlex

from rollbook.actions.fleet import each_host
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.resources import Venv
from rollbook.core.site import Site

# content, not names and sizes: a rebuilt bundle of the same size is another file
CONTENT_HASH = (
    'cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum | sha256sum'
)
_SNAPSHOT = 'if [ -d "$1" ]; then tar -C "$1" -cf "$2" . && echo taken; else echo absent; fi'


def static_root(env: Environment) -> str:
    """The static root, which Paso 3.3 clears: refused unless inside the app's folder."""
    root = posixpath.normpath(env.app_file(env.app.static_root))
    app = posixpath.normpath(env.app.path)
    if not root.startswith(app + "/"):
        raise StepFailed(
            f"static root {root} is not inside the app path {app}: refusing to clear it"
        )
    return root


def content_hash(host: Host, env: Environment) -> str | None:
    """sha256 of the static root's files and contents; None when there is no static root."""
    done = host.run(
        ["sh", "-c", CONTENT_HASH, "sh", static_root(env)], mutating=False, check=False, app=True
    )
    return done.stdout.split()[0] if done.ok and done.stdout.strip() else None


def take_snapshot(host: Host, env: Environment, incident: str) -> dict[str, str | None]:
    """Before Etapa 3: the static root archived beside the ledger on this host, for §9."""
    path = posixpath.join(posixpath.dirname(env.ledger_file()), f"static-{incident}.tar")
    host.run(["mkdir", "-p", posixpath.dirname(path)], mutating=True, app=True)
    said = host.run(["sh", "-c", _SNAPSHOT, "sh", static_root(env), path], mutating=True, app=True)
    taken = said.stdout.strip() == "taken" or host.planning
    return {"path": path if taken else None, "sha256": content_hash(host, env)}


def put_back(host: Host, env: Environment, snapshot: dict[str, str | None]) -> None:
    """§9: the static root exactly as the snapshot holds it (empty if there was none)."""
    root = static_root(env)
    host.run(["mkdir", "-p", root], mutating=True, app=True)
    host.run(["find", root, "-mindepth", "1", "-delete"], mutating=True, app=True)
    if snapshot.get("path"):
        host.run(["tar", "-C", root, "-xf", str(snapshot["path"])], mutating=True, app=True)


def steps(env: Environment, venv: Venv) -> list[list[str]]:
    """The app's static steps as commands: `manage` is the venv's `python manage.py`."""
    return [venv.command(step) for step in env.app.static_steps]


def build_on(host: Host, env: Environment) -> int:
    """Clear the static root, run the app's static steps in order (in its folder, with its
    environment); the number of files they made. Where the steps wrote Django's manifest
    (ManifestStaticFilesStorage), every file it names must be there."""
    root = static_root(env)
    host.run(["mkdir", "-p", root], mutating=True, app=True)
    host.run(["find", root, "-mindepth", "1", "-delete"], mutating=True, app=True)
    venv = Venv(host, env.app)
    for argv in steps(env, venv):
        venv.run(argv, mutating=True)
    files = host.run(["find", root, "-type", "f"], mutating=False, app=True).stdout.splitlines()
    if not host.planning:
        _check_manifest(host, root, files)
    return len(files)


MANIFEST = "staticfiles.json"  # Django's ManifestStaticFilesStorage writes it in the static root


def _check_manifest(host: Host, root: str, files: list[str]) -> None:
    """Every file the manifest names is in the static root; StepFailed naming the missing."""
    path = posixpath.join(root, MANIFEST)
    if path not in files:
        return
    text = host.run(["cat", path], mutating=False, app=True).stdout
    try:
        named = set(json.loads(text).get("paths", {}).values())
    except (ValueError, AttributeError):
        raise StepFailed(
            f"{host.name}: {path} is not the manifest Django writes (JSON with paths)"
        ) from None
    present = set(files)
    missing = sorted(name for name in named if posixpath.join(root, name) not in present)
    if missing:
        raise StepFailed(
            f"{host.name}: the static files' manifest {path} names {len(missing)} files the "
            f"static root lacks ({', '.join(missing[:5])}) — the target's static steps did not "
            "produce them"
        )


def build(incident: Incident, site: Site) -> dict[str, int]:
    """Paso 3.3 on every app host: the app's static steps, from an empty static root."""
    counts = each_host(incident, site, "app", lambda host: build_on(host, site.env))
    incident.note(
        "static_files", hosts=counts, steps=[shlex.join(s) for s in site.env.app.static_steps]
    )
    return counts
