"""Etapa 3 — code rollback on every app host: checkout, dependencies, static files."""

from __future__ import annotations

import posixpath
import re

from rollbook.errors import StepFailed
from rollbook.run import Run

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _venv(run: Run, tool: str) -> str:
    return f"{run.env.app.venv}/bin/{tool}"


def _git(run: Run, spec: str, *args: str, mutating: bool) -> str:
    argv = ["git", "-C", run.env.app.path, *args]
    return run.executor.run(spec, argv, mutating=mutating).stdout.strip()


def pip_freeze(run: Run, spec: str) -> list[str]:
    out = run.executor.run(spec, [_venv(run, "pip"), "freeze"], mutating=False).stdout
    return sorted(line for line in out.splitlines() if line and not line.startswith("#"))


def record_deployed_code(run: Run) -> dict[str, object]:
    """Before Etapa 3 changes anything: the deployed ref and package set, for §9."""
    code = {}
    for spec in run.hosts("app"):
        code[spec] = {
            "commit": _git(run, spec, "rev-parse", "HEAD", mutating=False),
            "tag": run.fact("deployed")["tag"],
            "freeze": pip_freeze(run, spec),
        }
    return run.record("code_before", hosts=code)


def checkout_tag(run: Run, tag: str) -> dict[str, str]:
    """Paso 3.1: git fetch --tags; git checkout TAG; git log -1 --oneline."""
    heads = {}
    for spec in run.hosts("app"):
        _git(run, spec, "fetch", "--tags", mutating=True)
        _git(run, spec, "checkout", tag, mutating=True)
        heads[spec] = _git(run, spec, "log", "-1", "--oneline", mutating=False)
    run.record("code_checked_out", tag=tag, heads=heads)
    return heads


def deployed_commit(run: Run, spec: str) -> str:
    return _git(run, spec, "rev-parse", "HEAD", mutating=False)


def tag_commit(run: Run, spec: str, tag: str) -> str:
    return _git(run, spec, "rev-parse", f"refs/tags/{tag}^{{commit}}", mutating=False)


def install_requirements(run: Run, force: bool = True) -> None:
    """Paso 3.2: pip install --force-reinstall -r requirements.txt (with the YAML's pip options)."""
    force_flag = ["--force-reinstall"] if force else []
    argv = [_venv(run, "pip"), "install", "--disable-pip-version-check", *force_flag,
            *run.env.app.pip_options, "-r", run.env.app.requirements]  # fmt: skip
    for spec in run.hosts("app"):
        run.executor.run(
            spec, argv, mutating=True, cwd=run.env.app.path, timeout=run.env.timeouts.install
        )


def pinned_requirements(run: Run, spec: str) -> dict[str, str]:
    text = run.executor.run(
        spec, ["cat", run.env.app_file(run.env.app.requirements)], mutating=False
    ).stdout
    return {normalize(m.group(1)): m.group(2) for m in map(_PIN.match, text.splitlines()) if m}


def installed_versions(run: Run, spec: str, names: list[str]) -> dict[str, str]:
    out = run.executor.run(spec, [_venv(run, "pip"), "show", *names], mutating=False, check=False)
    versions, name = {}, ""
    for line in out.stdout.splitlines():
        if line.startswith("Name:"):
            name = normalize(line.split(":", 1)[1].strip())
        elif line.startswith("Version:"):
            versions[name] = line.split(":", 1)[1].strip()
    return versions


def check_critical_packages(run: Run) -> dict[str, dict[str, str]]:
    """Paso 3.2's check: each critical package installed at the version the target pins."""
    report = {}
    names = run.env.app.critical_packages
    for spec in run.hosts("app"):
        pins = pinned_requirements(run, spec)
        found = installed_versions(run, spec, names)
        wrong = [
            f"{n}: installed {found.get(normalize(n), 'nothing')}, target pins {pins[normalize(n)]}"
            for n in names
            if normalize(n) in pins and found.get(normalize(n)) != pins[normalize(n)]
        ]
        missing = [n for n in names if normalize(n) not in found]
        if wrong or missing:
            raise StepFailed(
                f"{spec}: " + "; ".join(wrong + [f"{n}: not installed" for n in missing])
            )
        report[spec] = {n: found[normalize(n)] for n in names}
    run.record("critical_packages", hosts=report)
    return report


def static_root(run: Run) -> str:
    root = posixpath.normpath(run.env.app_file(run.env.app.static_root))
    app = posixpath.normpath(run.env.app.path)
    if not root.startswith(app + "/"):
        raise StepFailed(
            f"static root {root} is not inside the app path {app}: refusing to clear it"
        )
    return root


def restore_static(run: Run) -> dict[str, int]:
    """Paso 3.3: clear the static root, collectstatic --noinput, count the files."""
    root = static_root(run)
    manage = [_venv(run, "python"), run.env.app.manage, "collectstatic", "--noinput"]
    counts = {}
    for spec in run.hosts("app"):
        run.executor.run(spec, ["mkdir", "-p", root], mutating=True)
        run.executor.run(spec, ["find", root, "-mindepth", "1", "-delete"], mutating=True)
        run.executor.run(spec, manage, mutating=True, cwd=run.env.app.path, env=run.env.app.env)
        listed = run.executor.run(spec, ["find", root, "-type", "f"], mutating=False)
        counts[spec] = len(listed.stdout.splitlines())
    run.record("static_files", hosts=counts)
    return counts
