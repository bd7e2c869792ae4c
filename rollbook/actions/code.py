"""Etapa 3 — code rollback on every app host: checkout, dependencies, static files."""

from __future__ import annotations

import json
import posixpath
import re

from rollbook.actions.fleet import each_host
from rollbook.core.errors import StepFailed
from rollbook.core.remote_file import write_argv
from rollbook.core.run import Run

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _venv(run: Run, tool: str) -> str:
    return f"{run.env.app.venv}/bin/{tool}"


def _git(run: Run, spec: str, *args: str, mutating: bool) -> str:
    argv = ["git", "-C", run.env.app.path, *args]
    return run.executor.run(spec, argv, mutating=mutating).stdout.strip()


def pip_freeze(run: Run, spec: str) -> list[str]:
    return parse_freeze(
        run.executor.run(spec, [_venv(run, "pip"), "freeze"], mutating=False).stdout
    )


def parse_freeze(out: str) -> list[str]:
    return sorted(line for line in out.splitlines() if line and not line.startswith("#"))


def record_deployed_code(run: Run) -> dict[str, object]:
    """Before Etapa 3 changes anything: the deployed ref and package set, for §9."""
    tag = run.fact("deployed")["tag"]
    code = each_host(run, "app", lambda spec: {
        "commit": _git(run, spec, "rev-parse", "HEAD", mutating=False),
        "tag": tag,
        "freeze": pip_freeze(run, spec),
    })  # fmt: skip
    return run.record("code_before", hosts=code)


def checkout_tag(run: Run, tag: str) -> dict[str, str]:
    """Paso 3.1: git fetch --tags; git checkout TAG; git log -1 --oneline."""

    def checkout(spec: str) -> str:
        _git(run, spec, "fetch", "--tags", mutating=True)
        _git(run, spec, "checkout", tag, mutating=True)
        return _git(run, spec, "log", "-1", "--oneline", mutating=False)

    heads = each_host(run, "app", checkout)
    run.record("code_checked_out", tag=tag, heads=heads)
    return heads


def deployed_commit(run: Run, spec: str) -> str:
    return _git(run, spec, "rev-parse", "HEAD", mutating=False)


def tag_commit(run: Run, spec: str, tag: str) -> str:
    return _git(run, spec, "rev-parse", f"refs/tags/{tag}^{{commit}}", mutating=False)


def install_requirements(run: Run) -> dict[str, str]:
    """Paso 3.2 on every app host: the target's exact package set when the ledger has it, else the
    procedure's `pip install --force-reinstall -r requirements.txt` holding every package the
    target does not pin at its current version (so nothing unpinned moves).

    With `app.force_reinstall: when_needed`, pip is asked first (`--dry-run`) and the install is
    skipped when the venv already satisfies the target exactly; otherwise only what differs moves.
    """
    recorded = run.fact("target").get("packages")
    force = run.env.app.force_reinstall == "always"
    skipped: dict[str, str] = {}

    def install(spec: str) -> str:
        if recorded:
            args = _exact_args(run, recorded)
            how = "the target's recorded package set (ledger), checked with pip freeze"
        else:
            held = _hold_unpinned(run, spec)
            args = [*run.env.app.pip_options, "-r", run.env.app.requirements, "-c", held]
            how = (
                "no ledger entry for the target: the procedure's command, with every package "
                f"the target does not pin held at its installed version ({held})"
            )
        # planning: the held file of a run without record is not written, so pip is not asked
        if not force and not run.planning and not _would_install(run, spec, args):
            skipped[spec] = "pip install --dry-run: the venv already satisfies the target exactly"
            run.say(f"{spec}: {skipped[spec]} — reinstall skipped (force_reinstall: when_needed)")
        else:
            _pip_install(run, spec, ["--force-reinstall", *args] if force else args)
        if recorded:
            _uninstall_extra(run, spec, recorded)
        return how

    how = each_host(run, "app", install)
    run.record("packages_installed", hosts=how, skipped=skipped)
    return how


def _exact_args(run: Run, wanted: list[str]) -> list[str]:
    return ["--no-deps", *run.env.app.pip_options, *wanted]


def _pip_install(run: Run, spec: str, args: list[str]) -> None:
    argv = [_venv(run, "pip"), "install", "--disable-pip-version-check", *args]
    run.executor.run(
        spec, argv, mutating=True, cwd=run.env.app.path, timeout=run.env.timeouts.install
    )


def _would_install(run: Run, spec: str, args: list[str]) -> list[str]:
    """pip's own answer, without installing: what `pip install ARGS` would install."""
    argv = [_venv(run, "pip"), "install", "--disable-pip-version-check", "--dry-run",
            "--quiet", "--report", "-", *args]  # fmt: skip
    out = run.executor.run(
        spec, argv, mutating=False, cwd=run.env.app.path, timeout=run.env.timeouts.install
    ).stdout
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        raise StepFailed(f"{spec}: pip install --dry-run gave no report: {out[:200]}") from None
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report["install"]]


def install_exact(run: Run, spec: str, wanted: list[str]) -> None:
    """Make the venv's `pip freeze` equal `wanted`: install what differs without resolving, drop
    the rest (§9 puts back the recorded set this way)."""
    _pip_install(run, spec, _exact_args(run, wanted))
    _uninstall_extra(run, spec, wanted)


def _uninstall_extra(run: Run, spec: str, wanted: list[str]) -> None:
    names = {normalize(line.split("==")[0]) for line in wanted}
    extra = [line.split("==")[0] for line in pip_freeze(run, spec)
             if normalize(line.split("==")[0]) not in names]  # fmt: skip
    if extra:
        run.executor.run(spec, [_venv(run, "pip"), "uninstall", "-y", *extra], mutating=True)


def check_package_set(run: Run) -> dict[str, str]:
    """Paso 3.2's check against the ledger: each app host's `pip freeze` is the recorded set."""
    recorded = run.fact("target").get("packages")

    def check(spec: str) -> str:
        if not recorded:
            return "no ledger record for the target: critical packages checked only"
        found = pip_freeze(run, spec)
        if found != sorted(recorded):
            missing = sorted(set(recorded) - set(found))
            unexpected = sorted(set(found) - set(recorded))
            raise StepFailed(
                f"{spec}: pip freeze differs from the target's recorded package set: missing "
                f"{missing}, unexpected {unexpected}"
            )
        return f"pip freeze equals the ledger's record ({len(found)} packages)"

    checked = each_host(run, "app", check)
    run.record("package_set", hosts=checked)
    return checked


def _hold_unpinned(run: Run, spec: str) -> str:
    """A constraints file, in rollbook's folder on the host: the installed version of every
    package the target's requirements do not pin."""
    pinned = pinned_requirements(run, spec)
    held = [line for line in pip_freeze(run, spec)
            if "==" in line and normalize(line.split("==")[0]) not in pinned]  # fmt: skip
    path = posixpath.join(posixpath.dirname(run.env.ledger_file()), f"held-{run.incident_id}.txt")
    run.executor.run(spec, ["mkdir", "-p", posixpath.dirname(path)], mutating=True)
    run.executor.run(spec, write_argv("\n".join(held), path), mutating=True)
    return path


def pinned_requirements(run: Run, spec: str) -> dict[str, str]:
    text = run.executor.run(
        spec, ["cat", run.env.app_file(run.env.app.requirements)], mutating=False
    ).stdout
    return {normalize(m.group(1)): m.group(2) for m in map(_PIN.match, text.splitlines()) if m}


def installed_versions(run: Run, spec: str) -> dict[str, str]:
    """Normalized name → version of every package `pip freeze` lists (pinned lines only)."""
    return {
        normalize(name): version
        for name, _, version in (line.partition("==") for line in pip_freeze(run, spec))
        if version
    }


def check_critical_packages(run: Run) -> dict[str, dict[str, str]]:
    """Paso 3.2's check: each critical package installed at the version the target pins."""
    names = run.env.app.critical_packages

    def check(spec: str) -> dict[str, str]:
        pins = pinned_requirements(run, spec)
        found = installed_versions(run, spec)
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
        return {n: found[normalize(n)] for n in names}

    report = each_host(run, "app", check)
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

    def collect(spec: str) -> int:
        run.executor.run(spec, ["mkdir", "-p", root], mutating=True)
        run.executor.run(spec, ["find", root, "-mindepth", "1", "-delete"], mutating=True)
        run.executor.run(spec, manage, mutating=True, cwd=run.env.app.path, env=run.env.app.env)
        listed = run.executor.run(spec, ["find", root, "-type", "f"], mutating=False)
        return len(listed.stdout.splitlines())

    counts = each_host(run, "app", collect)
    run.record("static_files", hosts=counts)
    return counts
