"""A release's deploy time comes from the deploy checkout's reflog, not from its tag's date: a
lightweight tag's date is its commit's, which may be long before the deploy."""

import os
from datetime import datetime
from pathlib import Path

from rollbook.actions.release import deploy_time, deployed_release
from rollbook.core.resources import Checkout
from tests.unit.git_repo import IDENTITY, git, make_repo
from tests.unit.local_run import local_host

COMMITTED = "2020-01-01T00:00:00+00:00"  # the release's commit, years before its deploy
DEPLOYED = "2026-11-28T09:00:00+00:00"


def at(moment: str) -> dict[str, str]:
    return {**os.environ, "GIT_COMMITTER_DATE": moment, "GIT_AUTHOR_DATE": moment}


def deploy_checkout(tmp_path: Path) -> Path:
    """A checkout whose HEAD moved to a lightweight tag `deploy-2` at DEPLOYED."""
    repo = make_repo(tmp_path)
    git(repo, *IDENTITY, "commit", "-q", "--allow-empty", "-m", "old", env=at(COMMITTED))
    git(repo, "tag", "deploy-2")  # lightweight: its date is the commit's
    git(repo, "checkout", "-q", "--detach", "deploy-1")
    git(repo, *IDENTITY, "checkout", "-q", "--detach", "deploy-2", env=at(DEPLOYED))
    return repo


def test_the_reflog_dates_the_deploy(tmp_path: Path) -> None:
    tree = Checkout(local_host(tmp_path / "journal"), str(deploy_checkout(tmp_path)))
    deployed = deployed_release(tree, "deploy-*")
    assert deployed.tag == "deploy-2"
    assert deployed.date == datetime.fromisoformat(COMMITTED).timestamp()  # the commit's
    moment, source = deploy_time(tree, deployed)
    assert moment == datetime.fromisoformat(DEPLOYED).timestamp()
    assert "reflog" in source


def test_without_a_reflog_the_tag_date_is_used_and_said(tmp_path: Path) -> None:
    repo = deploy_checkout(tmp_path)
    git(repo, "reflog", "expire", "--expire=all", "--all")
    tree = Checkout(local_host(tmp_path / "journal"), str(repo))
    deployed = deployed_release(tree, "deploy-*")
    moment, source = deploy_time(tree, deployed)
    assert moment == deployed.date and "no reflog" in source
