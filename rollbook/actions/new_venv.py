"""`app.force_reinstall: new_venv` (the default): Paso 3.2's complete reinstall, built before the
downtime.

Paso 3.4, before Etapa 2 and while the app still serves, copies the app's venv beside it
(`<venv>.rollbook-<incident>`, in the same folder so that a rename moves it; `cp -a`: its base
Python, pip.conf, scripts and bytecode come along) and installs into the copy what differs from
the target: its recorded set (ledger) exactly, what the record does not hold uninstalled; or the
target's requirements from its tag with the arguments Paso 3.2 would give pip. The procedure's
`--force-reinstall` is honoured by observation rather than by rewriting every file: each file of
each distribution in the copy is compared with its wheel's RECORD (sha256), and a distribution
with a file that differs or is missing is reinstalled from its wheel and checked again. The
scripts pip wrote name the copy: they are rewritten to name the app's venv path (their RECORD rows
too), and what pip installed is compiled as if it lived there (tracebacks name real files). In the
downtime, Paso 3.2 renames the app's venv aside (`<venv>.before-<incident>`) and the copy into its
place: two renames. §9 renames them back. The venv set aside is kept and named.

A host where the copy cannot be renamed into place (a symbolic link, a folder the app user cannot
write, too little free space, a target installing local code, a distribution still differing from
its RECORD after its reinstall) is said and reinstalled in place by Paso 3.2 with the procedure's
own command.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from rollbook.actions import dependencies, requirements
from rollbook.actions.fleet import each_host
from rollbook.core.config import AppConfig, Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.operations import VenvStaged, VenvSwitched
from rollbook.core.records import Records
from rollbook.core.resources import Venv
from rollbook.core.site import Site
from rollbook.core.state import Target, TargetResolved, VenvBuilt, VenvRenamed

# what decides whether a copy of the live venv can be made beside it, in one Python start as the
# app user: whether its path is a symbolic link, whether its folder is writable, which of the
# new venv's and the set-aside venv's names are taken, the folder's free space and the live venv's
# size (argv: live, staged, aside)
INSPECT = """
import json, os, shutil, sys
live, names = sys.argv[1].rstrip("/"), sys.argv[2:]
size = 0
for root, dirs, files in os.walk(live):
    for name in files:
        try:
            size += os.lstat(os.path.join(root, name)).st_size
        except OSError:
            pass
folder = os.path.dirname(live)
print(json.dumps({"link": os.path.islink(live), "writable": os.access(folder, os.W_OK),
                  "taken": [n for n in names if os.path.lexists(n)], "size": size,
                  "free": shutil.disk_usage(folder).free}))
"""

# which distributions of a venv hold a file that is not what their wheel installed (RECORD)
RECORDED_FILES = (Path(__file__).parent / "recorded_files.py").read_text()

# every text file of bin/ and pyvenv.cfg naming the new folder made to name the app's venv path
# instead, and the RECORD rows of those files given their new sha256 and size (as pip writes them
# installing at the app's path); prints how many files were rewritten and how many still name
# the new folder
_RELOCATE = """
import base64, csv, glob, hashlib, io, os, sys
staged, live = sys.argv[1].encode(), sys.argv[2].encode()
paths = [os.path.join(sys.argv[1], "pyvenv.cfg")]
folder = os.path.join(sys.argv[1], "bin")
paths += [os.path.join(folder, n) for n in sorted(os.listdir(folder))]
rewritten, left = {}, 0
for path in paths:
    if os.path.islink(path) or not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        data = f.read()
    if staged not in data or b"\\0" in data:
        continue
    with open(path, "wb") as f:
        f.write(data.replace(staged, live))
    with open(path, "rb") as f:
        data = f.read()
    left += staged in data
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rewritten[os.path.normpath(path)] = [f"sha256={digest}", str(len(data))]
records = glob.glob(os.path.join(sys.argv[1], "lib*", "python*", "*", "*.dist-info", "RECORD"))
for record in sorted({os.path.realpath(r) for r in records}):
    base = os.path.dirname(os.path.dirname(record))
    with open(record, newline="") as f:
        rows = list(csv.reader(f))
    changed = [r for r in rows if os.path.normpath(os.path.join(base, r[0])) in rewritten]
    for row in changed:
        row[1:3] = rewritten[os.path.normpath(os.path.join(base, row[0]))]
    if changed:
        out = io.StringIO()
        csv.writer(out, lineterminator="\\n").writerows(rows)
        with open(record, "w", newline="") as f:
            f.write(out.getvalue())
print(len(rewritten), left)
"""

# Paso 3.2: the app's venv aside, the new one into its place; §9: the reverse (idempotent)
SWITCH = (
    'live="$1" aside="$2" staged="$3"; '
    '[ -d "$staged" ] || { echo "the new venv $staged is missing" >&2; exit 3; }; '
    '[ ! -e "$aside" ] || { echo "$aside exists already" >&2; exit 3; }; '
    'mv -- "$live" "$aside" && { [ ! -e "$live" ] || exit 3; } && mv -- "$staged" "$live"'
)
SWITCH_BACK = (
    'live="$1" aside="$2" staged="$3"; [ -d "$aside" ] || exit 0; '
    'if [ -e "$live" ]; then [ ! -e "$staged" ] || { echo "$staged exists already" >&2; exit 3; }; '
    'mv -- "$live" "$staged" || exit 1; fi; [ ! -e "$live" ] || exit 3; '
    'mv -- "$aside" "$live" && echo renamed back'
)


def enabled(env: Environment) -> bool:
    return env.app.force_reinstall == "new_venv"


def staged_path(env: Environment, incident: str) -> str:
    return f"{env.app.venv.rstrip('/')}.rollbook-{incident}"


def aside_path(env: Environment, incident: str) -> str:
    return f"{env.app.venv.rstrip('/')}.before-{incident}"


def _at(env: Environment, venv: str) -> AppConfig:
    return env.app.model_copy(update={"venv": venv})


def unsuitable(found: dict[str, Any], live: str) -> str | None:
    """Why a new venv cannot be built beside `live` and renamed into its place on a host that
    INSPECT described as `found`; None where it can. The new venv takes about the live one's
    size: the folder must keep as much again free after it."""
    live, mib = live.rstrip("/"), 2**20
    folder = posixpath.dirname(live)
    if found["link"]:
        return f"app.venv {live} is a symbolic link: a folder renamed into its place replaces it"
    if not found["writable"]:
        return f"the app's user cannot create a folder in {folder}, app.venv's folder"
    if found["taken"]:
        return f"{', '.join(found['taken'])} exists already: a venv left by an earlier run"
    if found["free"] < 2 * found["size"]:
        return (
            f"{folder} has {found['free'] // mib} MiB free: a second venv of "
            f"{found['size'] // mib} MiB would leave less than its size"
        )
    return None


def prepare(incident: Incident, site: Site, records: Records) -> dict[str, dict[str, Any]]:
    """Paso 3.4 on every app host: a copy of the app's venv beside it, with the app serving,
    holding the target's packages, every file checked against its wheel's RECORD. Where a host
    cannot have one (unsuitable, local code, a distribution that cannot be made whole), it is
    said why and Paso 3.2 reinstalls in place there. {host: {"freeze", "pins"} of the new venv,
    as Paso 3.2's checks read them, "reinstalled" and "left"} of the hosts that have one."""
    target, env = records.need(Target), site.env
    resolved = records.known(TargetResolved)
    unheld = resolved.unheld if resolved else []
    staged, aside = staged_path(env, incident.id), aside_path(env, incident.id)

    def in_place(host: Host, why: str) -> dict[str, Any]:
        incident.say(
            f"Paso 3.4: {host.name}: no new venv ({why}); Paso 3.2 reinstalls in "
            f"{env.app.venv} (pip install --force-reinstall)"
        )
        return {"in_place": why}

    def build(host: Host) -> dict[str, Any]:
        live, new = Venv(host, env.app), Venv(host, _at(env, staged), copied=True)
        found = json.loads(
            host.run(
                [f"{env.app.venv}/bin/python", "-c", INSPECT, env.app.venv, staged, aside],
                mutating=False,
                app=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        read = dependencies.target_requirements_tree(host, env, target.ref)
        local = requirements.local_code(target.packages) if target.packages else read.local
        why = unsuitable(found, env.app.venv) or (_local_code(local[0]) if local else None)
        if why:
            return in_place(host, why)
        seen = live.freeze()
        with records.operation(VenvStaged(host.spec, staged)) as change:  # §9 removes it
            # the live venv copied (its pip.conf, its bytecode, its scripts naming the app's
            # path): what differs from the target is installed below, the rest is checked
            made = host.run(
                ["cp", "-a", "--", env.app.venv.rstrip("/"), staged],
                mutating=True,
                app=True,
                check=False,
                timeout=env.timeouts.install,
            )
            if made.unreached:  # the link, not the copy: the Paso fails (§9 removes it)
                raise StepFailed(host.describe_failure(made))
            if not made.ok:
                remove_staged(host, env, change)
                return in_place(
                    host, f"copying {env.app.venv} failed: {host.describe_failure(made)}"
                )
            log = f"install-{incident.id}-new-venv.log"
            if target.packages:  # all of it: what the copy has at its version stays, and a
                # dry-run plans the very command the run runs
                args = dependencies.exact_args(env, target.packages)
                total = len(target.packages)
            else:  # Paso 3.2's own arguments: the target's requirements, the rest held
                hold = host.spec not in unheld
                args = dependencies.target_requirements(
                    host, env, target.ref, seen, hold=hold, read=read
                )
                total = None
            dependencies.pip_install(new, env, ["--no-compile", *args], total, log)
            if target.packages:  # the copy's names are the live venv's (pip ran --no-deps)
                dependencies.uninstall_extra(new, target.packages, seen)
            checked = {} if host.planning else _reinstall_damaged(incident, host, new, env, log)
            if "why" in checked:
                remove_staged(host, env, change)
                return in_place(host, checked["why"])
            installed = [] if host.planning else new.freeze()  # before the scripts name `live`
            _relocate(host, env, staged)
        return {"freeze": installed, "pins": read.pins, **checked}

    done = each_host(incident, site, "app", build)
    said = ("in_place", "reinstalled", "left")
    records.keep(
        VenvBuilt(
            staged, {spec: {k: part[k] for k in said if k in part} for spec, part in done.items()}
        )
    )
    return {spec: part for spec, part in done.items() if "in_place" not in part}


def none_built(records: Records) -> str:
    """Why Paso 3.4 built no new venv on any app host (each host's reason)."""
    made = records.need(VenvBuilt)
    why = "; ".join(f"{spec}: {part['in_place']}" for spec, part in made.hosts.items())
    return f"ningún host tiene venv nuevo, el Paso 3.2 reinstala en su lugar: {why}"


def _reinstall_damaged(
    incident: Incident, host: Host, new: Venv, env: Environment, log: str
) -> dict[str, Any]:
    """Every file of the copy checked against its distribution's RECORD (sha256): a distribution
    with a file that is not what its wheel installed is reinstalled from its wheel at its version
    (`--force-reinstall`, as the procedure's command does to all), then checked again; a packaging
    tool is left as an install in place leaves it (never forced: a mirror may lack the venv's
    bundled version), and said. {"reinstalled", "left"}, or {"why"} the copy cannot be whole."""
    damaged = _damaged(new)
    tools = [d for d in damaged if dependencies.package(d) in dependencies.PACKAGING]
    forced = [d for d in damaged if d not in tools]
    if tools:
        incident.say(
            f"Paso 3.4: {host.name}: {', '.join(tools)} differ from their RECORD "
            f"({'; '.join(damaged[t][0] for t in tools)}): left as in place"
        )
    if forced:
        where = "; ".join(damaged[d][0] for d in forced)
        incident.say(
            f"Paso 3.4: {host.name}: reinstalling {', '.join(forced)}: a file differs "
            f"from what its wheel installed ({where})"
        )
        try:
            dependencies.pip_install(
                new,
                env,
                ["--no-compile", "--force-reinstall", *dependencies.exact_args(env, forced)],
                len(forced),
                log,
            )
        except StepFailed as exc:
            return {
                "why": f"pip cannot reinstall {', '.join(forced)} (files differ from their "
                f"RECORD): {exc}"
            }
        still = [d for d in _damaged(new) if d in forced]
        if still:
            return {"why": f"{', '.join(still)} still differ from their RECORD after a reinstall"}
    return {"reinstalled": forced, "left": tools}


def _damaged(venv: Venv) -> dict[str, list[str]]:
    """RECORDED_FILES's answer for `venv`: "Name==version" → the first files that differ."""
    done = venv.host.run([venv.tool("python"), "-c", RECORDED_FILES], mutating=False, app=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1])["damaged"])


def _local_code(line: str) -> str:
    """Paso 3.4 runs before Paso 3.1's checkout: a requirement installing from a path, a file or
    an editable source (requirements.local_code) would not be the target's."""
    return (
        f"the target installs from a path, a file or an editable source ({line}): built "
        "before Paso 3.1's checkout it would be the deployed release's"
    )


def _relocate(host: Host, env: Environment, staged: str) -> None:
    """The new venv's scripts and bytecode made to name the app's venv path."""
    python, live = f"{staged}/bin/python", env.app.venv.rstrip("/")
    done = host.run([python, "-c", _RELOCATE, staged, live], mutating=True, app=True)
    if not host.planning and done.stdout.split()[-1:] != ["0"]:
        raise StepFailed(
            f"{host.name}: files of {staged}/bin still name it after the rewrite "
            f"({done.stdout.strip()}): set app.force_reinstall: always"
        )
    # what pip installed into the copy, as pip would have (a file that does not compile is left,
    # as pip leaves it), with the paths the files will have after the rename; the copied
    # bytecode is current (its sources' times kept); one process, niced: the app still serves
    done = host.run(
        [
            "nice",
            "-n",
            "10",
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "1",
            "-d",
            f"{live}/lib",
            f"{staged}/lib",
        ],
        mutating=True,
        app=True,
        check=False,
        timeout=env.timeouts.install,
    )
    if done.exit_status not in (0, 1):  # 1: a file did not compile
        raise StepFailed(host.describe_failure(done))


def reinstall(incident: Incident, site: Site, records: Records) -> dict[str, str]:
    """Paso 3.2: where Paso 3.4 built a new venv (of this incident or of the one it resumes),
    the app's venv renamed aside and the new one into its place; elsewhere pip installs into the
    app's venv (dependencies.install_requirements)."""
    env = site.env
    if not enabled(env):
        return dependencies.install_requirements(incident, site, records)
    live, aside = env.app.venv.rstrip("/"), aside_path(env, incident.id)
    made = records.known(VenvBuilt)
    in_place = {spec for spec, part in (made.hosts if made else {}).items() if "in_place" in part}
    built = {
        change.host: change.path
        for change in records.begun(VenvStaged)
        if change.host not in in_place
    }
    renamed: list[str] = []

    def rename(host: Host) -> str | None:
        staged = built.get(host.spec)
        if staged is None:
            if host.spec not in in_place:
                incident.say(
                    f"Paso 3.2: {host.name}: Paso 3.4 built no new venv here: reinstalling in place"
                )
            return None
        with records.operation(VenvSwitched(host.spec, live, aside, staged)):  # §9 renames back
            host.run(["sh", "-c", SWITCH, "sh", live, aside, staged], mutating=True, app=True)
        renamed.append(host.spec)
        return f"the new venv built before the stop (Paso 3.4) renamed into {live}"

    how = dependencies.install_requirements(incident, site, records, instead=rename)
    if renamed and not site.planning:
        records.keep(VenvRenamed(live, aside, sorted(renamed)))
        incident.say(
            f"Paso 3.2: the new venv is {live}; the one it replaced is kept as {aside} "
            "(remove it once no longer needed)"
        )
    return how


def switch_back(host: Host, change: VenvSwitched) -> bool:
    """§9: the venv Paso 3.2 set aside back at the app's venv path (the new one back aside);
    whether it moved (it had not when the run died before the first rename)."""
    done = host.run(
        ["sh", "-c", SWITCH_BACK, "sh", change.live, change.aside, change.staged],
        mutating=True,
        app=True,
    )
    return "renamed back" in done.stdout


def remove_staged(host: Host, env: Environment, change: VenvStaged) -> None:
    """§9: the new venv Paso 3.4 built, removed (never the app's venv path)."""
    if posixpath.normpath(change.path) != posixpath.normpath(env.app.venv):
        host.run(["rm", "-rf", "--", change.path], mutating=True, app=True)
