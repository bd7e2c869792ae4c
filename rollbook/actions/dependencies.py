"""Paso 3.2 — the target's packages on every app host: its recorded set (ledger) exactly, or the
procedure's `pip install --force-reinstall -r requirements.txt`, resolved by pip before any change
(Paso 1.2); the complete set compared (`pip freeze --all`), critical packages checked."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from typing import Any, cast

from rollbook.actions import requirements
from rollbook.actions.fleet import each_host
from rollbook.actions.requirements import normalize
from rollbook.core.command import CommandResult
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.progress import PipProgress
from rollbook.core.records import Records
from rollbook.core.remote_file import write_argv
from rollbook.core.resources import Checkout, Venv, digest
from rollbook.core.site import Site
from rollbook.core.state import Target, TargetResolved

# what plain `pip freeze` leaves out: a record taken with it (older ledger entries) has none
PACKAGING = frozenset({"pip", "setuptools", "wheel", "distribute"})


def package(line: str) -> str:
    """The normalized name of a `pip freeze` line."""
    return normalize(re.split(r"\s*(?:==|@)\s*", line, maxsplit=1)[0])


def comparable(found: list[str], recorded: list[str]) -> list[str]:
    """`found` as `recorded` was taken: without the packaging tools when the record has none."""
    if any(package(line) in PACKAGING for line in recorded):
        return sorted(found)
    return sorted(line for line in found if package(line) not in PACKAGING)


def set_difference(found: list[str], recorded: list[str]) -> tuple[list[str], list[str]]:
    """(missing, unexpected) of a venv's package set against a recorded one."""
    found = comparable(found, recorded)
    return sorted(set(recorded) - set(found)), sorted(set(found) - set(recorded))


def install_requirements(
    incident: Incident,
    site: Site,
    records: Records,
    instead: Callable[[Host], str | None] = lambda host: None,
) -> dict[str, str]:
    """Paso 3.2 on every app host: the target's exact package set when the ledger has it, else the
    procedure's `pip install --force-reinstall -r requirements.txt` holding every package the
    target does not pin at its current version (so nothing unpinned moves). A host `instead`
    gives the packages another way (it says how) is left to it.

    With `app.force_reinstall: when_needed`, the install is skipped when the venv already
    satisfies the target exactly (pip's dry-run: Paso 1.2's of the recorded set while the venv is
    still the one it saw, else asked again); otherwise only what differs moves.
    """
    recorded = records.need(Target).packages
    force = forced(site.env)
    resolved = records.known(TargetResolved)
    unheld = resolved.unheld if resolved else []
    asked = resolved.hosts if resolved else {}
    skipped: dict[str, str] = {}

    def install(host: Host) -> str:
        other = instead(host)
        if other is not None:
            return other
        venv = Venv(host, site.env.app)
        seen = venv.freeze()
        total = asked.get(host.spec, {}).get("count")  # Paso 1.2's count of this install
        if recorded:
            changes = to_change(seen, recorded)
            args, total = exact_args(site.env, changes), len(changes)
            how = "the target's recorded package set (ledger), checked with pip freeze"
        elif host.spec in unheld:
            args = [*site.env.app.pip_options, "-r", site.env.app.requirements]
            how = (
                "no ledger entry for the target: the procedure's command, nothing held (holding "
                "the unpinned packages conflicts with the target's pins: Paso 1.2)"
            )
        else:
            held = _hold_unpinned(host, site.env, incident.id, seen)
            args = [*site.env.app.pip_options, "-r", site.env.app.requirements, "-c", held]
            how = (
                "no ledger entry for the target: the procedure's command, with every package "
                f"the target does not pin held at its installed version ({held})"
            )
        # planning: the held file of a run without record is not written, so pip is not asked
        needed = None
        if not force and not host.planning:
            needed = (_answered(asked.get(host.spec, {}), seen) if recorded else None) or (
                len(_would_install(venv, site.env, args)),
                "pip install --dry-run",
            )
        if needed is not None and not needed[0]:
            why = f"{needed[1]}: the venv already satisfies the target exactly"
            skipped[host.spec] = why
            incident.say(f"{host.spec}: {why} — reinstall skipped (force_reinstall: when_needed)")
        else:
            pip_install(
                venv,
                site.env,
                ["--force-reinstall", *args] if force else args,
                total,
                f"install-{incident.id}.log",
            )
        if recorded:
            uninstall_extra(venv, recorded)
        return how

    how = each_host(incident, site, "app", install)
    incident.note("packages_installed", hosts=how, skipped=skipped)
    return how


def forced(env: Environment) -> bool:
    """Whether Paso 3.2 installs in place with the procedure's --force-reinstall: all but
    `when_needed` (a host new_venv could not build a venv for is reinstalled in place)."""
    return env.app.force_reinstall != "when_needed"


def exact_args(env: Environment, wanted: list[str]) -> list[str]:
    return ["--no-deps", *env.app.pip_options, *wanted]


def to_change(seen: list[str], wanted: list[str]) -> list[str]:
    """The recorded lines a venv whose `pip freeze --all` is `seen` does not have yet: a
    packaging tool already at its recorded version is left alone (never forced: a mirror may
    lack the venv's bundled version)."""
    return [line for line in wanted if line not in seen or package(line) not in PACKAGING]


def _answered(before: dict[str, Any], seen: list[str]) -> tuple[int, str] | None:
    """How many packages installing the recorded set installs, as Paso 1.2's dry-run of the same
    install answered it — where the venv is still the one it saw (its `pip freeze --all` has
    the same sha256); None when it is not."""
    if before.get("packages_sha256") == digest(seen) and isinstance(before.get("count"), int):
        return int(before["count"]), "pip install --dry-run of Paso 1.2 (the venv unchanged since)"
    return None


def pip_install(
    venv: Venv, env: Environment, args: list[str], total: int | None, log_name: str
) -> None:
    """pip install, its progress said as it goes (`total`: the packages it installs, when
    known); pip's own log kept in rollbook's folder on the host as `log_name`."""
    folder = posixpath.dirname(env.ledger_file())
    log = posixpath.join(folder, log_name)
    venv.host.run(["mkdir", "-p", folder], mutating=True, app=True)
    with PipProgress(venv.host, log, venv.app.venv, total, stall=env.timeouts.stall):
        venv.pip(
            "install",
            "--disable-pip-version-check",
            "--log",
            log,
            *args,
            mutating=True,
            timeout=env.timeouts.install,
        )


def pip_report(venv: Venv, env: Environment, args: list[str], check: bool = False) -> CommandResult:
    """`pip install --dry-run --report -` with `args`: what pip would install, installing none."""
    install = ["install", "--disable-pip-version-check", "--dry-run", "--quiet", "--report", "-"]
    return venv.pip(*install, *args, mutating=False, timeout=env.timeouts.install, check=check)


def _would_install(venv: Venv, env: Environment, args: list[str]) -> list[str]:
    """pip's own answer, without installing: what `pip install ARGS` would install."""
    out = pip_report(venv, env, args, check=True).stdout
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        raise StepFailed(
            f"{venv.host.spec}: pip install --dry-run gave no report: {out[:200]}"
        ) from None
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report["install"]]


def install_exact(host: Host, env: Environment, wanted: list[str], incident: str) -> None:
    """Make the venv's `pip freeze` equal `wanted`: install what differs without resolving, drop
    the rest (§9 puts back the recorded set this way)."""
    venv = Venv(host, env.app)
    changes = to_change(venv.freeze(), wanted)
    pip_install(venv, env, exact_args(env, changes), len(changes), f"install-{incident}-9.log")
    uninstall_extra(venv, wanted)


def uninstall_extra(venv: Venv, wanted: list[str], found: list[str] | None = None) -> None:
    """Uninstall what the record does not hold; never a packaging tool it does not list.
    `found`: the venv's `pip freeze --all` where it is known (a dry-run plans from it)."""
    names = {package(line) for line in wanted}
    found = venv.freeze() if found is None else found
    extra = [package(line) for line in comparable(found, wanted) if package(line) not in names]
    if extra:
        venv.pip("uninstall", "-y", *extra, mutating=True)


def _hold_unpinned(host: Host, env: Environment, incident: str, seen: list[str]) -> str:
    """A constraints file, in rollbook's folder on the host: the installed version (in `seen`,
    the venv's `pip freeze --all`) of every package the target's requirements do not pin."""
    held = held_versions(seen, pinned_requirements(host, env))
    path = posixpath.join(posixpath.dirname(env.ledger_file()), f"held-{incident}.txt")
    host.run(["mkdir", "-p", posixpath.dirname(path)], mutating=True, app=True)
    host.run(write_argv("\n".join(held), path), mutating=True, app=True)
    return path


def held_versions(seen: list[str], pinned: dict[str, str]) -> list[str]:
    """The installed version (in `seen`) of every package the target does not pin."""
    return [line for line in seen if "==" in line and package(line) not in pinned]


# the target's requirement files, as committed at its tag, into this run's private folder
_ARCHIVE = (
    'repo="$1" tag="$2" into="$3"; shift 3; '
    'mkdir -p "$into" && git -C "$repo" archive "$tag" -- "$@" | tar -x -C "$into"'
)


def resolve_target(
    incident: Incident, site: Site, records: Records
) -> dict[str, dict[str, object]]:
    """Etapa 1: pip resolves, without installing, the install Paso 3.2 will run for the target
    (`pip install --dry-run --report`, its own arguments), before anything changed.
    {host: {ok, said}}: what pip would do, or pip's own words on why it cannot."""
    target, env = records.need(Target), site.env
    recorded, force = target.packages, forced(env)

    unheld: list[str] = []

    def dry_run(venv: Venv, args: list[str]) -> CommandResult:
        return pip_report(venv, env, [*(["--force-reinstall"] if force else []), *args])

    def resolve(host: Host) -> dict[str, object]:
        venv, how = Venv(host, env.app), ""
        seen = venv.freeze()
        # the recorded set's install is Paso 3.2's own while the venv is still this one
        same = {"packages_sha256": digest(seen)} if recorded else {}
        if recorded:
            wanted = to_change(seen, recorded)
            if not wanted:
                return {
                    "ok": True,
                    "said": "the venv already holds the target's recorded set",
                    "count": 0,
                    **same,
                }
            report = dry_run(venv, exact_args(env, wanted))
        else:
            report = dry_run(venv, target_requirements(host, env, target.ref, seen))
            if not report.ok and _conflict(report.stderr):  # the held versions clash with pins
                unholding = dry_run(
                    venv, target_requirements(host, env, target.ref, seen, hold=False)
                )
                if unholding.ok:
                    how = (
                        " without holding the unpinned packages (holding them at their "
                        f"installed versions conflicts: {_said(report.stderr, 2)})"
                    )
                    unheld.append(host.spec)
                    report = unholding
        if not report.ok:
            return {
                "ok": False,
                "said": (
                    f"{host.name}: pip cannot install the target {target.name}'s packages "
                    f"({'recorded set' if recorded else 'requirements'}): "
                    f"{_said(report.stderr, 4)} "
                    "— nothing was changed; fix the requirements or the mirror, then run again"
                ),
            }
        try:
            install = [
                [
                    i["metadata"]["name"],
                    i["metadata"]["version"],
                    i.get("download_info", {}).get("url", ""),
                    bool(i.get("is_direct")),
                ]
                for i in json.loads(report.stdout)["install"]
            ]
        except (json.JSONDecodeError, KeyError, TypeError):
            install = None
        count = -1 if install is None else len(install)
        return {
            "ok": True,
            "said": f"pip resolves the install{how}: {count} packages to install",
            "count": count if count >= 0 else None,
            "install": install,
            **same,
        }

    resolved = each_host(incident, site, "app", resolve)
    records.keep(TargetResolved(resolved, sorted(unheld)))
    for spec in unheld:
        incident.say(
            f"{spec}: Paso 3.2 will not hold the unpinned packages: {resolved[spec]['said']}"
        )
    return resolved


def _conflict(stderr: str) -> bool:
    """pip's resolver found the requirements contradict each other (not a missing version)."""
    return "ResolutionImpossible" in stderr or "conflicting dependencies" in stderr


def _said(stderr: str, lines: int) -> str:
    return " | ".join([line.strip() for line in stderr.splitlines() if line.strip()][-lines:])


def target_requirements(
    host: Host,
    env: Environment,
    tag: str,
    seen: list[str],
    hold: bool = True,
    read: requirements.Tree | None = None,
) -> list[str]:
    """pip's arguments for the target's requirements as Paso 3.2 will give them, from its tag:
    the files (includes too) written into this run's private folder, the held constraints (the
    installed versions, in `seen`, of what the target does not pin). `read`: the files as
    target_requirements_tree read them already."""
    read = read or target_requirements_tree(host, env, tag)
    pins, files = read.pins, read.files
    top = posixpath.relpath(env.app_file(env.app.requirements), env.app.path)
    # a tag may hold "/" (deploy/1.4.2): the file's name is the tag's digest
    held = host.private_file(
        f"held-{digest([tag])[:12]}.txt", "\n".join(held_versions(seen, pins)), app=True
    )
    folder = posixpath.join(posixpath.dirname(held), "target")
    # writes only into the run's private folder (like its pgpass): not a change to the system
    host.run(
        ["sh", "-c", _ARCHIVE, "sh", env.app.path, tag, folder, *files], mutating=False, app=True
    )
    constraints = ["-c", held] if hold else []
    return [*env.app.pip_options, "-r", posixpath.join(folder, top), *constraints]


def target_requirements_tree(host: Host, env: Environment, tag: str) -> requirements.Tree:
    """The target's requirements as committed at `tag`: pins, files, local-code lines."""
    top = posixpath.relpath(env.app_file(env.app.requirements), env.app.path)
    return requirements.at_tag(Checkout(host, env.app.path), tag, top)


def pinned_requirements(host: Host, env: Environment) -> dict[str, str]:
    """The exact pins of the target's requirements, includes and constraints followed."""
    return requirements.pinned(host, env.app_file(env.app.requirements))


def versions(freeze: list[str]) -> dict[str, str]:
    """Normalized name → version of every pinned line of a `pip freeze`."""
    return {
        normalize(name): version
        for name, _, version in (line.partition("==") for line in freeze)
        if version
    }


def installed(incident: Incident, site: Site) -> dict[str, dict[str, object]]:
    """What Paso 3.2 left on each app host: `pip freeze --all` and the target's pins."""

    def observe(host: Host) -> dict[str, object]:
        return {
            "freeze": Venv(host, site.env.app).freeze(),
            "pins": pinned_requirements(host, site.env),
        }

    return each_host(incident, site, "app", observe)


def critical_mismatches(
    incident: Incident, site: Site, found: dict[str, dict[str, object]]
) -> list[str]:
    """Paso 3.2's check: each critical package installed at the version the target pins."""
    names = site.env.app.critical_packages
    if not names:
        incident.not_configured("app.critical_packages: the package set only")
    problems, report = [], {}
    for spec, seen in found.items():
        pins = cast(dict[str, str], seen["pins"])
        installed = versions(cast(list[str], seen["freeze"]))
        wrong = [
            f"{n}: installed {installed.get(normalize(n), 'nothing')}, target pins "
            f"{pins[normalize(n)]}"
            for n in names
            if normalize(n) in pins and installed.get(normalize(n)) != pins[normalize(n)]
        ]
        wrong += [f"{n}: not installed" for n in names if normalize(n) not in installed]
        if wrong:
            problems.append(f"{spec}: " + "; ".join(wrong))
        report[spec] = {n: installed.get(normalize(n), "nothing") for n in names}
    incident.note("critical_packages", hosts=report)
    return problems


def package_set_differences(
    incident: Incident, records: Records, found: dict[str, dict[str, object]]
) -> list[str]:
    """Paso 3.2's check against the ledger: each app host's `pip freeze --all` is the recorded
    set (without a ledger record, the critical packages are all there is to check)."""
    recorded = records.need(Target).packages
    hosts, problems = {}, []
    for spec, seen in found.items():
        if not recorded:
            hosts[spec] = (
                "sin registro de la versión objetivo: solo se comprobaron los paquetes críticos"
            )
            continue
        missing, unexpected = set_difference(cast(list[str], seen["freeze"]), recorded)
        hosts[spec] = f"pip freeze --all igual al registro de versiones ({len(recorded)} paquetes)"
        if missing or unexpected:
            hosts[spec] = (
                "pip freeze --all difiere de los paquetes registrados de la versión objetivo: "
                f"faltan {missing}, sobran {unexpected}"
            )
            problems.append(f"{spec}: {hosts[spec]}")
    incident.note("package_set", hosts=hosts)
    return problems
