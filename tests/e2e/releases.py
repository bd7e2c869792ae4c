"""Faulty releases published to the sandbox's origin, for the failure paths of the e2e tests.

The sandbox's `reset` rebuilds the git history, so these tags disappear with the next reset.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.sandbox_state import env, git


def deploy_tags() -> list[str]:
    """The sandbox's deploy tags, newest first."""
    pattern = f"refs/tags/{env().app.tags}"
    return git("for-each-ref", "--sort=-creatordate", "--format=%(refname:short)", pattern).split()


def stable_tag() -> str:
    return deploy_tags()[1]


def publish(change: Callable[[Path], None], minutes_ago: int = 100) -> str:
    """Clone origin at the stable tag, apply `change`, commit, tag, push; return the tag."""
    origin = git("remote", "get-url", "origin")
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    tag = f"staging-deploy-{moment:%Y%m%d-%H%M}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"

        def run(*args: str) -> None:
            subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True)

        subprocess.run(["git", "clone", "-q", origin, str(work)], check=True, capture_output=True)
        run("checkout", "-q", stable_tag())
        change(work)
        run(
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@rollbook.invalid",
            "commit",
            "-qam",
            "fault",
        )
        run(
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@rollbook.invalid",
            "tag",
            "-a",
            tag,
            "-m",
            tag,
        )
        run("push", "-q", "origin", tag)
    return tag


def gunicorn_cannot_start(work: Path) -> None:
    wsgi = work / "config" / "wsgi.py"
    wsgi.write_text(wsgi.read_text() + '\nraise RuntimeError("injected: release cannot boot")\n')


def smoke_test_fails(work: Path) -> None:
    smoke = work / "tests" / "smoke" / "test_critical.py"
    smoke.write_text(
        smoke.read_text() + '\n\ndef test_injected_fault() -> None:\n    assert False, "injected"\n'
    )


def health_breaks_without_migration(work: Path) -> None:
    """A code-only defect: the health check's database probe always reports a failure."""
    health = work / "core" / "health.py"
    health.write_text(
        health.read_text()
        + '\n\ndef check_database() -> str | None:  # noqa: F811\n    return "injected fault"\n'
    )


def deploy(tag: str) -> None:
    """Deploy a release by hand, like a team's normal deploy: checkout and restart gunicorn."""
    git("fetch", "--tags", "-q")
    git("checkout", "-q", tag)
    services = env().services
    subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), "restart", "gunicorn"],
        check=True, capture_output=True,
    )  # fmt: skip
