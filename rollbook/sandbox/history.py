"""The demo app's git history: a bare origin with three tagged deploys, and the deployed checkout.

Built from the app's sources at relative times (now-50h, now-3h, now-1h), so the tag names
(`staging-deploy-YYYYMMDD-HHMM`, UTC) move with the clock: `reset` rebuilds it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rollbook.core.errors import UserError
from rollbook.sandbox.dates import OLD_RELEASE_VERSION, Timeline, tag_name
from rollbook.sandbox.layout import APP_SOURCES, Layout
from rollbook.sandbox.shell import require_binary

AUTHOR = ("rollbook sandbox", "sandbox@rollbook.invalid")
STABLE_TREE = APP_SOURCES / "stable"
RELEASES_FILE = "releases.json"  # in the state folder: which tag is which, for the faults
DEFECTIVE_PATCH = APP_SOURCES / "defective.patch"


@dataclass(frozen=True)
class Releases:
    """The three deploy tags, oldest first."""

    old: str
    stable: str
    defective: str

    @property
    def tags(self) -> tuple[str, str, str]:
        return self.old, self.stable, self.defective


def releases(timeline: Timeline) -> Releases:
    return Releases(*(tag_name(moment) for moment in timeline.deploys))


def _git_environment(moment: datetime | None = None) -> dict[str, str]:
    """The caller's environment, without their git config, as the sandbox's author at `moment`."""
    environment = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    # a profile's checkout may be its app user's (app_user.py): the sandbox, root, works in it
    environment.update(
        GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0="*"
    )
    name, email = AUTHOR
    for role in ("AUTHOR", "COMMITTER"):
        environment[f"GIT_{role}_NAME"] = name
        environment[f"GIT_{role}_EMAIL"] = email
        if moment is not None:
            environment[f"GIT_{role}_DATE"] = moment.isoformat()
    return environment


def git(layout: Layout, repo: Path, *args: str | Path, moment: datetime | None = None) -> str:
    git_binary = require_binary("git", "apt-get install git")
    return layout.shell.run(
        [git_binary, "-C", repo, *args], env=_git_environment(moment)
    ).stdout.strip()


def check_sources() -> None:
    for source in (STABLE_TREE / "requirements.txt", DEFECTIVE_PATCH):
        if not source.is_file():
            raise UserError(f"{source} is missing: the demo app's sources are incomplete")


def _release(layout: Layout, work: Path, tag: str, moment: datetime) -> None:
    version = (work / "VERSION").read_text(encoding="utf-8").strip()
    git(layout, work, "add", "--all")
    git(layout, work, "commit", "--quiet", "-m", f"Release {version}", moment=moment)
    git(layout, work, "tag", "-a", tag, "-m", f"Deploy {version} to staging", moment=moment)


def publish_history(layout: Layout, timeline: Timeline) -> Releases:
    """(Re)create the bare origin: VERSION 1.3.0, the stable tree, then the defective patch."""
    check_sources()
    tags = releases(timeline)
    old, stable, defective = timeline.deploys
    layout.origin.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=layout.origin.parent) as scratch:
        work = Path(scratch)
        git(layout, work, "init", "--quiet", "--initial-branch=main")
        shutil.copytree(
            STABLE_TREE,
            work,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "venv", ".venv", "staticfiles"),
        )
        (work / "VERSION").write_text(f"{OLD_RELEASE_VERSION}\n", encoding="utf-8")
        _release(layout, work, tags.old, old)
        shutil.copy2(STABLE_TREE / "VERSION", work / "VERSION")
        _release(layout, work, tags.stable, stable)
        git(layout, work, "apply", DEFECTIVE_PATCH)
        _release(layout, work, tags.defective, defective)
        shutil.rmtree(layout.origin, ignore_errors=True)
        git(layout, work, "init", "--quiet", "--bare", "--initial-branch=main", layout.origin)
        git(layout, work, "push", "--quiet", "--mirror", layout.origin)
    layout.state.mkdir(parents=True, exist_ok=True)
    names = {"old": tags.old, "stable": tags.stable, "defective": tags.defective}
    (layout.state / RELEASES_FILE).write_text(json.dumps(names) + "\n", encoding="utf-8")
    return tags


def deploy(layout: Layout, tag: str, moment: datetime | None = None) -> None:
    """Check `tag` out in the deployed checkout, fetching the (re)built origin's tags first; the
    checkout's reflog dates the deploy at `moment` (default now), as a deploy at that time would.

    Ignored files (venv/, .env, staticfiles/) stay; stray tracked changes do not.
    """
    if not (layout.app / ".git").is_dir():
        layout.app.mkdir(parents=True, exist_ok=True)
        git(layout, layout.app, "init", "--quiet")
        git(layout, layout.app, "remote", "add", "origin", layout.origin)
    git(
        layout,
        layout.app,
        "fetch",
        "--quiet",
        "--force",
        "--prune",
        "--prune-tags",
        "--tags",
        "origin",
    )
    git(layout, layout.app, "checkout", "--quiet", "--force", "--detach", tag, moment=moment)
    git(layout, layout.app, "clean", "--quiet", "--force", "-d")


def replay_deploys(layout: Layout, stable: str, defective: str, timeline: Timeline) -> None:
    """The deploy checkout's history as the timeline tells it: `stable` deployed at its time,
    then `defective` at its own, so that the reflog dates the deploy (a checkout of the commit
    HEAD is already at records nothing, and rollbook reads the deploy time from the reflog)."""
    deploy(layout, stable, timeline.stable_deploy)
    deploy(layout, defective, timeline.defective_deploy)


def stable_tag(layout: Layout) -> str:
    return json.loads((layout.state / RELEASES_FILE).read_text())["stable"]


def show(layout: Layout, tag: str, path: str) -> str:
    """A file of a release, read from the origin."""
    return git(layout, layout.origin, "show", f"{tag}:{path}")


def deployed_tag(layout: Layout) -> str | None:
    """The tag the checkout is at, or None (no checkout, or a commit without a tag)."""
    describe = ["git", "-C", layout.app, "describe", "--tags", "--exact-match", "HEAD"]
    result = layout.shell.run(describe, env=_git_environment(), check=False)
    return result.stdout.strip() if result.returncode == 0 else None
