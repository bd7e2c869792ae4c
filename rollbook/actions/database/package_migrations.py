"""Paso 1.2 without a ledger record: the migrations that live in packages (a third-party app's,
Django's contrib apps'), now and once Paso 3.2 installed the target's.

What Paso 3.2 installs is what Paso 1.2's pip dry-run said (`pip install --dry-run --report`):
a package it keeps at its installed version keeps its installed migrations; one it changes is
read from the target version's archive — the mirror's file, or a wheel downloaded into this run's
private folder (a dry-run too: pip's cache in the login user's home may keep a copy). The
checkout itself (an editable install of the project) is the repository's, read by
migration_history.trees. Whatever cannot be read (a VCS or URL requirement, a release with no
wheel) is named as unread, never taken as unchanged.
"""

from __future__ import annotations

import json
import posixpath
from urllib.parse import unquote, urlparse

from rollbook.actions import dependencies
from rollbook.actions.database.migration_history import IN_APP, LABELS
from rollbook.actions.requirements import normalize
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.records import Records
from rollbook.core.resources import Venv
from rollbook.core.state import PackageMigrations, Target, TargetResolved

PACKAGES = LABELS + (IN_APP / "packages.py").read_text()
ARCHIVES = (".whl", ".tar.gz", ".zip")
INSTALL = "the target's install"  # what is unread when pip's dry-run listed nothing
# pip options that say where packages come from: `pip download` takes them, not install-only ones
SOURCES = (
    "--index-url",
    "-i",
    "--extra-index-url",
    "--find-links",
    "-f",
    "--no-index",
    "--trusted-host",
    "--cert",
    "--client-cert",
    "--proxy",
)
FLAGS = ("--no-index",)  # of SOURCES, those without a value


def packages(records: Records, venv: Venv, env: Environment) -> PackageMigrations:
    """The packages' migrations on `venv`'s host, read there in one call
    (rollbook/actions/in_app/packages.py) — or as an earlier Paso of this run read them."""
    known = records.known(PackageMigrations)
    if known is not None:
        return known
    resolved = records.known(TargetResolved)
    install = (resolved.hosts.get(venv.host.spec, {}) if resolved else {}).get("install")
    unread: dict[str, str] = {}
    if install is None:
        unread[INSTALL] = "Paso 1.2's pip dry-run gave no list of what Paso 3.2 installs"
    installed = dependencies.versions(venv.freeze())
    changed: dict[str, tuple[str, str, bool]] = {}
    for name, version, url, *direct in install or []:
        if installed.get(normalize(name)) != version and not _in_checkout(url, env.app.path):
            changed[normalize(name)] = (version, url, bool(direct and direct[0]))
    archives = {
        name: unquote(urlparse(url).path)
        for name, (_, url, _) in changed.items()
        if url.startswith("file:") and url.endswith(ARCHIVES)
    }
    fetch = {
        name: version
        for name, (version, _, direct) in changed.items()
        if name not in archives and not direct
    }
    for name, (version, url, direct) in changed.items():
        if direct and name not in archives:
            unread[f"{name}=={version}"] = f"installed from {url}: its files are not read here"
    if fetch:
        got, errors = _download(venv, env, fetch)
        archives.update(got)
        unread.update(
            {
                f"{name}=={version}": errors.get(name, "no wheel")
                for name, version in fetch.items()
                if name not in got
            }
        )
    out = venv.host.run(
        [venv.tool("python"), "-c", PACKAGES, json.dumps(archives)], mutating=False, app=True
    )
    try:
        found = json.loads(out.stdout)
    except ValueError:
        raise StepFailed(f"the packages' migrations were not read: {out.stdout[-300:]}") from None
    now, recorded = found["installed"], records.need(Target).packages
    staying = {dependencies.package(line) for line in recorded or []}
    kept = [
        m
        for name, dist in now.items()
        if name not in changed and (not recorded or name in staying)
        for m in dist["migrations"]
    ]
    fresh = [m for dist in found["archives"].values() for m in dist["migrations"]]
    return records.keep(
        PackageMigrations(
            sorted({m for dist in now.values() for m in dist["migrations"]}),
            sorted(set(kept) | set(fresh)),
            {str(squash): [str(n) for n in names] for squash, names in found["squashes"].items()},
            unread,
        )
    )


def _in_checkout(url: str, checkout: str) -> bool:
    """A file URL of the app's own checkout (an editable or local install of the project)."""
    if not url.startswith("file:"):
        return False
    path = posixpath.normpath(unquote(urlparse(url).path))
    return path == posixpath.normpath(checkout) or path.startswith(checkout.rstrip("/") + "/")


def _download(
    venv: Venv, env: Environment, wanted: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The wheels of `wanted` ({name: version}), downloaded without their dependencies into
    this run's private folder on the host: ({name: path}, {name: pip's words on a missing one})."""
    lines = "".join(f"{name}=={version}\n" for name, version in wanted.items())
    listing = venv.host.private_file("wheels-wanted.txt", lines, app=True)
    folder = posixpath.join(posixpath.dirname(listing), "wheels")
    errors = {}
    if _pip_download(venv, env, folder, ["-r", listing]):  # one missing fails the whole call
        for name, version in wanted.items():
            said = _pip_download(venv, env, folder, [f"{name}=={version}"])
            if said:
                errors[name] = f"{said} (pip download --only-binary=:all:)"
    listed = venv.host.run(
        ["ls", "-1", folder], mutating=False, check=False, app=True
    ).stdout.split()
    got = {
        normalize(file.split("-")[0]): posixpath.join(folder, file)
        for file in listed
        if file.endswith(".whl")
    }
    return got, errors


def _pip_download(venv: Venv, env: Environment, folder: str, args: list[str]) -> str:
    """pip download of `args` into `folder`: "" when it worked, else pip's last line."""
    # writes only into the run's private folder (like its pgpass): not a change to the system
    done = venv.pip(
        "download",
        "--disable-pip-version-check",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        folder,
        *sources(env.app.pip_options),
        *args,
        mutating=False,
        timeout=env.timeouts.install,
        check=False,
    )
    said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return "" if done.ok else (said[-1] if said else f"pip exited {done.exit_status}")


def sources(options: list[str]) -> list[str]:
    """Of `app.pip_options`, those that say where packages come from (each with its value)."""
    kept: list[str] = []
    value = False
    for option in options:
        if value:
            kept.append(option)
            value = False
        elif option.split("=", 1)[0] in SOURCES:
            kept.append(option)
            value = "=" not in option and option not in FLAGS
    return kept
