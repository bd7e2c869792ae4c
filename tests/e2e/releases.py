"""Releases and deploys made by hand in the sandbox, for the e2e tests that need a new deploy."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from rollbook.sandbox.faults import publish_release
from rollbook.sandbox.layout import load_layout
from tests.e2e.sandbox_state import env, git


def deploy_tags() -> list[str]:
    """The sandbox's deploy tags, newest first."""
    pattern = f"refs/tags/{env().app.tags}"
    return git("for-each-ref", "--sort=-creatordate", "--format=%(refname:short)", pattern).split()


def health_breaks_without_migration(work: Path) -> None:
    """A code-only defect: the health check's database probe always reports a failure."""
    health = work / "core" / "health.py"
    health.write_text(
        health.read_text()
        + '\n\ndef check_database() -> str | None:  # noqa: F811\n    return "injected fault"\n'
    )


def publish_code_only_defect() -> str:
    """A release newer than every other: the stable one with a bug and no migration."""
    return publish_release(load_layout(), health_breaks_without_migration, timedelta(minutes=1))


def deploy(tag: str) -> None:
    """Deploy a release by hand, like a team's normal deploy: checkout and restart gunicorn."""
    git("checkout", "-q", tag)
    services = env().services
    subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), "restart", "gunicorn"],
        check=True, capture_output=True,
    )  # fmt: skip
