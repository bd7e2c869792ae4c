"""Etapa 3 — code rollback on every app host: checkout, dependencies, static files."""

from __future__ import annotations

import json
import posixpath
import re

from rollbook.actions.fleet import each_host
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.remote_file import write_argv
from rollbook.core.resources import Checkout, Venv
from rollbook.core.run import Run

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def record_deployed_code(run: Run) -> dict[str, object]:
    """Before Etapa 3 changes anything: the deployed ref and package set, for §9."""
    tag = run.fact("deployed")["tag"]
    code = each_host(run, "app", lambda host: {
        "commit": Checkout(host, run.env.app.path).head(),
        "tag": tag,
        "freeze": Venv(host, run.env.app).freeze(),
    })  # fmt: skip
    return run.record("code_before", hosts=code)


def checkout_tag(run: Run, tag: str) -> dict[str, str]:
    """Paso 3.1: git fetch --tags; git checkout TAG; git log -1 --oneline."""

    def checkout(host: Host) -> str:
        tree = Checkout(host, run.env.app.path)
        tree.git("fetch", "--tags", mutating=True)
        tree.git("checkout", tag, mutating=True)
        return tree.git("log", "-1", "--oneline")

    heads = each_host(run, "app", checkout)
    run.record("code_checked_out", tag=tag, heads=heads)
    return heads


def hosts_not_at(run: Run, tag: str) -> list[str]:
    """The app hosts whose checked-out commit is not the tag's (Paso 3.1's check)."""
    trees = [Checkout(run.executor.host(spec), run.env.app.path) for spec in run.hosts("app")]
    return [tree.host.spec for tree in trees if tree.head() != tree.tag_commit(tag)]


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

    def install(host: Host) -> str:
        venv = Venv(host, run.env.app)
        if recorded:
            args = _exact_args(run.env, recorded)
            how = "the target's recorded package set (ledger), checked with pip freeze"
        else:
            held = _hold_unpinned(host, run.env, run.incident_id)
            args = [*run.env.app.pip_options, "-r", run.env.app.requirements, "-c", held]
            how = (
                "no ledger entry for the target: the procedure's command, with every package "
                f"the target does not pin held at its installed version ({held})"
            )
        # planning: the held file of a run without record is not written, so pip is not asked
        if not force and not host.planning and not _would_install(venv, run.env, args):
            why = "pip install --dry-run: the venv already satisfies the target exactly"
            skipped[host.spec] = why
            run.say(f"{host.spec}: {why} — reinstall skipped (force_reinstall: when_needed)")
        else:
            _pip_install(venv, run.env, ["--force-reinstall", *args] if force else args)
        if recorded:
            _uninstall_extra(venv, recorded)
        return how

    how = each_host(run, "app", install)
    run.record("packages_installed", hosts=how, skipped=skipped)
    return how


def _exact_args(env: Environment, wanted: list[str]) -> list[str]:
    return ["--no-deps", *env.app.pip_options, *wanted]


def _pip_install(venv: Venv, env: Environment, args: list[str]) -> None:
    venv.pip("install", "--disable-pip-version-check", *args, mutating=True,
             timeout=env.timeouts.install)  # fmt: skip


def _would_install(venv: Venv, env: Environment, args: list[str]) -> list[str]:
    """pip's own answer, without installing: what `pip install ARGS` would install."""
    out = venv.pip("install", "--disable-pip-version-check", "--dry-run", "--quiet", "--report",
                   "-", *args, mutating=False, timeout=env.timeouts.install).stdout  # fmt: skip
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        raise StepFailed(
            f"{venv.host.spec}: pip install --dry-run gave no report: {out[:200]}"
        ) from None
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report["install"]]


def install_exact(host: Host, env: Environment, wanted: list[str]) -> None:
    """Make the venv's `pip freeze` equal `wanted`: install what differs without resolving, drop
    the rest (§9 puts back the recorded set this way)."""
    venv = Venv(host, env.app)
    _pip_install(venv, env, _exact_args(env, wanted))
    _uninstall_extra(venv, wanted)


def _uninstall_extra(venv: Venv, wanted: list[str]) -> None:
    names = {normalize(line.split("==")[0]) for line in wanted}
    extra = [line.split("==")[0] for line in venv.freeze()
             if normalize(line.split("==")[0]) not in names]  # fmt: skip
    if extra:
        venv.pip("uninstall", "-y", *extra, mutating=True)


def check_package_set(run: Run) -> dict[str, str]:
    """Paso 3.2's check against the ledger: each app host's `pip freeze` is the recorded set."""
    recorded = run.fact("target").get("packages")

    def check(host: Host) -> str:
        if not recorded:
            return "no ledger record for the target: critical packages checked only"
        found = Venv(host, run.env.app).freeze()
        if found != sorted(recorded):
            missing = sorted(set(recorded) - set(found))
            unexpected = sorted(set(found) - set(recorded))
            raise StepFailed(
                f"{host.spec}: pip freeze differs from the target's recorded package set: missing "
                f"{missing}, unexpected {unexpected}"
            )
        return f"pip freeze equals the ledger's record ({len(found)} packages)"

    checked = each_host(run, "app", check)
    run.record("package_set", hosts=checked)
    return checked


def _hold_unpinned(host: Host, env: Environment, incident: str) -> str:
    """A constraints file, in rollbook's folder on the host: the installed version of every
    package the target's requirements do not pin."""
    pinned = pinned_requirements(host, env)
    held = [line for line in Venv(host, env.app).freeze()
            if "==" in line and normalize(line.split("==")[0]) not in pinned]  # fmt: skip
    path = posixpath.join(posixpath.dirname(env.ledger_file()), f"held-{incident}.txt")
    host.run(["mkdir", "-p", posixpath.dirname(path)], mutating=True)
    host.run(write_argv("\n".join(held), path), mutating=True)
    return path


def pinned_requirements(host: Host, env: Environment) -> dict[str, str]:
    text = host.run(["cat", env.app_file(env.app.requirements)], mutating=False).stdout
    return {normalize(m.group(1)): m.group(2) for m in map(_PIN.match, text.splitlines()) if m}


def installed_versions(venv: Venv) -> dict[str, str]:
    """Normalized name → version of every package `pip freeze` lists (pinned lines only)."""
    return {
        normalize(name): version
        for name, _, version in (line.partition("==") for line in venv.freeze())
        if version
    }


def check_critical_packages(run: Run) -> dict[str, dict[str, str]]:
    """Paso 3.2's check: each critical package installed at the version the target pins."""
    names = run.env.app.critical_packages

    def check(host: Host) -> dict[str, str]:
        pins = pinned_requirements(host, run.env)
        found = installed_versions(Venv(host, run.env.app))
        wrong = [
            f"{n}: installed {found.get(normalize(n), 'nothing')}, target pins {pins[normalize(n)]}"
            for n in names
            if normalize(n) in pins and found.get(normalize(n)) != pins[normalize(n)]
        ]
        missing = [n for n in names if normalize(n) not in found]
        if wrong or missing:
            raise StepFailed(
                f"{host.spec}: " + "; ".join(wrong + [f"{n}: not installed" for n in missing])
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

    def collect(host: Host) -> int:
        host.run(["mkdir", "-p", root], mutating=True)
        host.run(["find", root, "-mindepth", "1", "-delete"], mutating=True)
        Venv(host, run.env.app).manage("collectstatic", "--noinput", mutating=True)
        listed = host.run(["find", root, "-type", "f"], mutating=False)
        return len(listed.stdout.splitlines())

    counts = each_host(run, "app", collect)
    run.record("static_files", hosts=counts)
    return counts
