"""The git release deployed on the app hosts: deployed ref, deploy tags, target choice, checkout."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from rollbook.errors import StepFailed
from rollbook.run import Run


@dataclass(frozen=True)
class Release:
    tag: str | None
    commit: str
    date: int  # unix time: the tag's creation date, or the commit's when untagged


def _git(run: Run, spec: str, *args: str, mutating: bool = False, check: bool = True) -> str:
    result = run.executor.run(
        spec, ["git", "-C", run.env.app.path, *args], mutating=mutating, check=check
    )
    return result.stdout.strip() if result.ok else ""


def deploy_tags(run: Run, spec: str) -> list[Release]:
    """Tags matching the environment's pattern, newest first (git tag --sort=-creatordate)."""
    fmt = "%(refname:short)%09%(creatordate:unix)%09%(objectname)%09%(*objectname)"
    pattern = f"refs/tags/{run.env.app.tags}"
    out = _git(run, spec, "for-each-ref", "--sort=-creatordate", f"--format={fmt}", pattern)
    releases = []
    for line in out.splitlines():
        name, date, obj, peeled = (line.split("\t") + [""] * 4)[:4]
        if fnmatchcase(name, run.env.app.tags):
            releases.append(Release(name, peeled or obj, int(date)))
    return releases


def deployed_release(run: Run, spec: str) -> Release:
    commit = _git(run, spec, "rev-parse", "HEAD")
    tags = [r for r in deploy_tags(run, spec) if r.commit == commit]
    if tags:
        return tags[0]
    return Release(None, commit, int(_git(run, spec, "log", "-1", "--format=%ct", "HEAD")))


def tag_on_origin(run: Run, spec: str, tag: str) -> bool:
    out = _git(run, spec, "ls-remote", "--tags", "origin", f"refs/tags/{tag}", check=False)
    return bool(out)


def choose_target(run: Run, spec: str, deployed: Release, wanted: str | None) -> Release:
    """--target-tag, or the newest deploy tag older than the deployed one; never the deployed."""
    pattern = run.env.app.tags
    tags = deploy_tags(run, spec)
    if wanted is not None:
        if not fnmatchcase(wanted, pattern):
            raise StepFailed(
                f"--target-tag {wanted} does not match the environment's tag pattern {pattern!r}"
            )
        if wanted == deployed.tag:
            raise StepFailed(f"--target-tag {wanted} is the deployed release: choose an older one")
        for release in tags:
            if release.tag == wanted:
                return release
        if tag_on_origin(run, spec, wanted):
            return Release(wanted, "", 0)  # fetched in Paso 3.1; commit known after checkout
        raise StepFailed(f"tag {wanted} exists neither on {spec} nor on origin: check the name")
    older = [r for r in tags if r.date < deployed.date and r.commit != deployed.commit]
    if not older:
        raise StepFailed(
            f"no deploy tag matching {pattern!r} older than the deployed "
            f"{deployed.tag or deployed.commit[:12]}: give --target-tag"
        )
    return older[0]
