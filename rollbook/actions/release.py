"""The git release deployed on the app hosts: deployed ref, deploy tags, target choice, checkout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.resources import Checkout
from rollbook.core.site import Site

# release ledger statuses (rollbook.actions.ledger): the default target is never one marked failed
VALIDATED, FAILED, ROLLED_BACK_FROM = "validated", "failed", "rolled_back_from"
NEVER_BY_DEFAULT = (FAILED, ROLLED_BACK_FROM)


@dataclass(frozen=True)
class Release:
    tag: str | None
    commit: str
    date: int  # unix time: the tag's creation date, or the commit's when untagged


def deploy_tags(tree: Checkout, pattern: str) -> list[Release]:
    """Tags matching the pattern (`app.tags`), newest first (git tag --sort=-creatordate)."""
    fmt = "%(refname:short)%09%(creatordate:unix)%09%(objectname)%09%(*objectname)"
    out = tree.git("for-each-ref", "--sort=-creatordate", f"--format={fmt}", f"refs/tags/{pattern}")
    releases = []
    for line in out.splitlines():
        name, date, obj, peeled = (line.split("\t") + [""] * 4)[:4]
        if fnmatchcase(name, pattern):
            releases.append(Release(name, peeled or obj, int(date)))
    return releases


def deployed_release(tree: Checkout, pattern: str) -> Release:
    commit = tree.head()
    tags = [r for r in deploy_tags(tree, pattern) if r.commit == commit]
    if tags:
        return tags[0]
    return Release(None, commit, int(tree.git("log", "-1", "--format=%ct", "HEAD")))


def deploy_time(tree: Checkout, deployed: Release) -> tuple[float, str]:
    """When the deployed release was deployed here, and where that comes from: git's reflog of
    the deploy checkout (when HEAD last moved to it), never a tag's or commit's date (a
    lightweight tag's is its commit's, often years before the deploy); without a reflog, the
    tag's date, said so."""
    moved = tree.git("log", "-g", "-1", "--date=unix", "--format=%gd", "HEAD", check=False)
    found = re.fullmatch(r"HEAD@\{(\d+)\}", moved)
    if found:
        return float(found.group(1)), "the deploy checkout's reflog (HEAD's last move)"
    return float(deployed.date), "the release's tag or commit date: no reflog in the checkout"


def tag_on_origin(tree: Checkout, tag: str) -> bool:
    return bool(tree.git("ls-remote", "--tags", "origin", f"refs/tags/{tag}", check=False))


def choose_target(
    incident: Incident,
    site: Site,
    tree: Checkout,
    deployed: Release,
    wanted: str | None,
    ledger: dict[str, dict[str, Any]],
) -> tuple[Release, str]:
    """The release to go back to, and why.

    --target-tag (never the deployed one; one the ledger marks failed or rolled back from only with
    --force-target); else the newest release older than the deployed one that the ledger marks
    validated; else, with no validated release, the procedure's rule: the newest older deploy tag
    the ledger does not mark failed.
    """
    pattern = site.env.app.tags
    tags = deploy_tags(tree, pattern)
    if wanted is not None:
        chosen = _wanted(incident, site, tree, deployed, wanted, tags, ledger.get(wanted))
        return chosen, "elegida con --target-tag"
    older = [r for r in tags if r.date < deployed.date and r.commit != deployed.commit]
    for candidate in older:
        recorded = ledger.get(str(candidate.tag))
        if recorded and recorded["status"] == VALIDATED:
            return candidate, f"última versión validada, validada el {recorded['time']}"
    usable = [r for r in older if ledger.get(str(r.tag), {}).get("status") not in NEVER_BY_DEFAULT]
    if not usable:
        raise StepFailed(
            f"no deploy tag matching {pattern!r} older than the deployed "
            f"{deployed.tag or deployed.commit[:12]}"
            + (" that the ledger does not mark failed" if older else "")
            + ": give --target-tag"
        )
    why = (
        "ninguna versión anterior está validada en el registro de versiones"
        if ledger
        else "el registro de versiones está vacío"
    )
    return usable[0], f"el tag de deploy anterior más reciente, la regla del procedimiento ({why})"


def _wanted(
    incident: Incident,
    site: Site,
    tree: Checkout,
    deployed: Release,
    wanted: str,
    tags: list[Release],
    recorded: dict[str, Any] | None,
) -> Release:
    pattern = site.env.app.tags
    if not fnmatchcase(wanted, pattern):
        raise StepFailed(
            f"--target-tag {wanted} does not match the environment's tag pattern {pattern!r}"
        )
    if wanted == deployed.tag:
        raise StepFailed(f"--target-tag {wanted} is the deployed release: choose an older one")
    if recorded and recorded["status"] in NEVER_BY_DEFAULT:
        if not incident.options.force_target:
            raise StepFailed(
                f"--target-tag {wanted} is marked {recorded['status']} in the release ledger "
                f"({recorded.get('incident') or recorded['time']}): choose another release, or add "
                "--force-target to go back to it anyway (recorded)"
            )
        incident.note("target_forced", tag=wanted, ledger_status=recorded["status"])
    for release in tags:
        if release.tag == wanted:
            return release
    if tag_on_origin(tree, wanted):
        return Release(wanted, "", 0)  # fetched in Paso 3.1; commit known after checkout
    raise StepFailed(
        f"tag {wanted} exists neither on {tree.host.spec} nor on origin: check the name"
    )
