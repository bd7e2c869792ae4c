"""A real git repository in a test's folder: two commits, the first tagged `deploy-1`."""

import subprocess
from pathlib import Path

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@t"]


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, *IDENTITY, "commit", "-q", "--allow-empty", "-m", "first")
    git(repo, *IDENTITY, "tag", "-a", "deploy-1", "-m", "d1")
    git(repo, *IDENTITY, "commit", "-q", "--allow-empty", "-m", "second")
    return repo
