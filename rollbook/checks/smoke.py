"""Paso 6.2's smoke tests, run where they can run: with the app's venv when it has pytest (tests
that use the app's code), else by rollbook's own pytest on the operator's side (a production venv
has no test tools; HTTP smoke tests need none of the app), or as the command the environment
names (`health.smoke_command`). The record says which."""

from __future__ import annotations

import base64
import io
import sys
import tarfile
import tempfile

from rollbook.core.command import CommandResult
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.resources import Venv
from rollbook.core.run import Run

PYTEST = ["-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]
_FETCH = 'tar -C "$1" -czf - -- "$2" | base64'


def runner(host: Host, env: Environment) -> str:
    """ "command", "app venv" or "operator" (smoke_runner: auto picks the app's venv when it has
    pytest)."""
    health = env.health
    if health.smoke_command:
        return "command"
    if health.smoke_runner != "auto":
        return {"app": "app venv", "operator": "operator"}[health.smoke_runner]
    venv = Venv(host, env.app)
    has_pytest = venv.run(
        [venv.tool("python"), "-c", "import pytest"], mutating=False, check=False, timeout=60
    ).ok
    return "app venv" if has_pytest else "operator"


def run_smoke(run: Run, host: Host) -> dict[str, object]:
    """The smoke tests, by their runner; StepFailed with pytest's own reasons when they fail."""
    env, health = run.site.env, run.site.env.health
    how = runner(host, env)
    # COLUMNS: pytest cuts its FAILED lines to the terminal's width
    variables = {**health.smoke_env, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "300"}
    venv = Venv(host, env.app)
    if how == "command":
        out = venv.run(
            health.smoke_command, mutating=False, check=False, env=variables, timeout=600
        )
    elif how == "app venv":
        out = venv.run(
            [venv.tool("python"), *PYTEST, str(health.smoke_tests)],
            mutating=False,
            check=False,
            env=variables,
            timeout=600,
        )
    else:
        out = _on_operator(run, host, str(health.smoke_tests), variables)
    summary = (out.stdout.strip().splitlines() or [""])[-1]
    said = {"runner": how, "exit": out.exit_status, "summary": summary}
    if not out.ok:
        what = " ".join(health.smoke_command) if how == "command" else health.smoke_tests
        raise StepFailed(
            f"smoke tests {what} ({how}) failed: {summary or 'no summary'} — "
            + failure_reasons(out.stdout, out.stderr)
        )
    return said


def _on_operator(run: Run, host: Host, tests: str, variables: dict[str, str]) -> CommandResult:
    """The tests as the target holds them, copied from the app host, run by rollbook's pytest."""
    path = tests.split("::", 1)[0]
    fetched = host.run(
        ["sh", "-c", _FETCH, "sh", run.site.env.app.path, path], mutating=False, app=True
    )
    with tempfile.TemporaryDirectory(prefix="rollbook-smoke-") as folder:
        archive = io.BytesIO(base64.b64decode(fetched.stdout))
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(folder, filter="data")
        local = run.site.host("local://")
        return local.run(
            [sys.executable, *PYTEST, f"{folder}/{tests}"],
            mutating=False,
            check=False,
            cwd=folder,
            env=variables,
            timeout=600,
        )


def failure_reasons(stdout: str, stderr: str) -> str:
    """Why pytest failed, for the error: its FAILED / ERROR summary lines (-rfE), else the last
    lines it printed (an import error, a missing module)."""
    found = [line for line in stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    if not found:
        found = [line for line in (stderr or stdout).splitlines() if line.strip()][-3:]
    return " | ".join(found[:5]) or "pytest printed nothing"
