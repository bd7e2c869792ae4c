"""§4.2 and §3.1: who approved this rollback, and over which plan (four eyes).

`rollbook approve reports/<dry-run>` has an approver sign the dry-run plan's digest (below) with
their own key. The real run given `--approval FILE` checks the signature (a person holding an
approving role, not the operator), then plans again (a dry-run with the same options) and starts
only if the digest is the same: same procedure files, rollbook, environment file, deployed
release, target, backup and its sha256, database path and the same mutating commands in order.
A critical emergency (§11.1.1) starts without one; its approval stays pending in the record until
an approver signs the record off (`rollbook sign-off`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollbook.actions import symptoms
from rollbook.core.config import Environment, Person, environments_dir
from rollbook.core.connection import PRIVATE_FOLDER
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.executor import Mode
from rollbook.core.option_table import replan_arguments
from rollbook.core.run import Run
from rollbook.core.state import SymptomsObserved
from rollbook.governance import people, provenance, signing, statements

_TIMESTAMP = re.compile(r"\d{8}_\d{6}")  # names made from the run's start time
_REPLAN_TIMEOUT = 600.0
PENDING = "pendiente"
SIGNED = "firmada"


def bound(plan: dict[str, Any]) -> dict[str, Any]:
    """What an approval covers, from a plan.json: the run's time, id and private folder left out
    of commands;
    on a fleet, each host's commands in their order, hosts in name order within a Paso (they
    are planned in parallel)."""
    incident = str(plan.get("incident", ""))

    def normal(text: str) -> str:
        # a run's private folder is named by its incident and a random part (run_folder)
        text = PRIVATE_FOLDER.sub("<carpeta privada>", text)
        return _TIMESTAMP.sub("<hora>", text.replace(incident, "<incidente>") if incident else text)

    made = plan.get("provenance") or {}
    target, backup = plan.get("target") or {}, plan.get("backup") or {}
    path = plan.get("database_path") or {}
    commands = [c for c in plan.get("commands", []) if isinstance(c, dict)]
    pasos = list(dict.fromkeys(str(c.get("paso")) for c in commands))
    ordered = sorted(
        enumerate(commands),
        key=lambda ic: (pasos.index(str(ic[1].get("paso"))), str(ic[1].get("host")), ic[0]),
    )
    return {
        "environment": plan.get("environment"),
        "environment_sha256": (made.get("environment") or {}).get("sha256"),
        "extends_sha256": [
            e.get("sha256") for e in (made.get("environment") or {}).get("extends", [])
        ],
        "features": made.get("features"),
        "rollbook": made.get("rollbook"),
        "deployed": (plan.get("deployed") or {}).get("commit"),
        "target": {"tag": target.get("tag"), "commit": target.get("commit")},
        "backup": {"path": backup.get("path"), "sha256": backup.get("sha256")},
        # the way back and what it drops (issue 18), not the live row counts: the app still
        # writes between the plan and the run (the run records the counts it finds)
        "database_path": {
            "path": path.get("path"),
            "drops": sorted(path.get("drops") or {}),
            "recover": path.get("recover"),
        },
        "commands": [
            [
                str(c.get("paso")),
                str(c.get("host")),
                [normal(str(a)) for a in c.get("argv", [])],
                normal(str(c.get("cwd") or "")),
            ]
            for _, c in ordered
        ],
    }


def digest(plan: dict[str, Any]) -> str:
    text = json.dumps(bound(plan), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def differences(approved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The parts of two bound plans that differ, named for the operator (the first differing
    command in full)."""
    found = [key for key in approved if key != "commands" and approved[key] != now.get(key)]
    old, new = approved.get("commands") or [], now.get("commands") or []
    if old != new:
        first = next(
            (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
            min(len(old), len(new)),
        )
        shown = " ".join(new[first][2]) if first < len(new) else "(none)"
        found.append(
            f"commands ({len(old)} approved, {len(new)} now; #{first + 1} now: {shown[:200]})"
        )
    return found


def read_plan(folder: Path) -> dict[str, Any]:
    path = folder / "plan.json"
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{folder} has no plan.json: approve the folder of a dry-run "
            "(pytest features/rollback.feature --env=E --dry-run …)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("commands", []), list):
        raise UserError(f"{path} is not a plan rollbook wrote: plan the rollback again (--dry-run)")
    return plan


def approve(folder: Path, env: Environment, key: str, role: str | None) -> statements.Signed:
    """`rollbook approve`: the approver signs the dry-run plan of `folder`."""
    plan = read_plan(folder)
    if plan.get("environment") != env.name:
        raise UserError(f"{folder} is a plan for {plan.get('environment')}, not {env.name}")
    if not (plan.get("commands") and plan.get("target") and plan.get("backup")):
        raise UserError(
            f"the dry-run of {folder} stopped before planning the whole rollback (no target, "
            "backup or commands): read its report, fix the cause and plan again"
        )
    _check_signed(folder, env)
    person = statements.signer(env, key)
    role = _approving_role(env, person, role)
    body = {
        "kind": "approval",
        "role": role,
        "environment": env.name,
        "plan_incident": plan.get("incident"),
        "plan_sha256": digest(plan),
        "target": (plan.get("target") or {}).get("tag"),
        "backup": (plan.get("backup") or {}).get("path"),
        "plan": bound(plan),
        "counts": {  # what the approver was shown; the run records the counts it finds
            "drops": (plan.get("database_path") or {}).get("drops"),
            "restore_loss": (plan.get("restore_loss_estimate") or {}).get("tables"),
        },
        "symptoms": plan.get("symptoms"),  # declared and observed at the dry-run (Paso 1.1)
    }
    return statements.sign(folder, env, key, body)


def situation(said: dict[str, Any] | None) -> str:
    """What an approver signs of the situation: declared, and what Paso 1.1 observed."""
    if not said:
        return "no consta en el plan (planificado antes de que rollbook la registrara)"
    observed = said.get("observed")  # Paso 1.1's record as the plan's JSON holds it
    seen = SymptomsObserved.of(observed) if observed else None
    return (
        f"declarado {said['severity'] or 'n/d'}: {said['declared'] or 'n/d'}; observado: "
        f"{symptoms.summary(seen)}"
    )


def _check_signed(folder: Path, env: Environment) -> None:
    """The dry-run folder verifies: the plan the approver reads is the one the run wrote."""
    allowed = env.signing.allowed_signers if env.signing else None
    with tempfile.TemporaryDirectory() as scratch:
        trusted = people.record_signers(env, Path(allowed) if allowed else None, Path(scratch))
        if trusted is None:
            return  # an environment without signing: nothing to check the plan against
        problems = signing.verify_folder(folder, trusted)
    if problems:
        raise UserError(f"{folder} does not verify ({problems[0]}): plan again, do not approve")


def _approving_role(env: Environment, person: Person, role: str | None) -> str:
    held = [r for r in person.roles if r in env.approvers]
    if role is not None and role not in held:
        raise UserError(
            f"{person.name} does not hold an approving role {role!r} in {env.name} (their "
            f"roles: {', '.join(person.roles)}; approving roles: {', '.join(env.approvers)})"
        )
    if not held:
        raise UserError(
            f"{person.name} holds no approving role in {env.name} ({', '.join(env.approvers)}): "
            f"ask one of {_approvers(env)}"
        )
    return role or held[0]


def _approvers(env: Environment) -> str:
    return ", ".join(p.name for p in people.holding(env, list(env.approvers))) or "(nobody)"


def _operator(run: Run) -> Person | None:
    return people.find(run.site.env, run.incident.options.operator)


def _same_person(run: Run, approver: Person) -> bool:
    """The operator is the approver: by their key where they sign with their own
    (--signing-key), else by the name they gave."""
    if run.incident.options.signing_key:
        return statements.signer(run.site.env, run.incident.options.signing_key) == approver
    operator = _operator(run)
    if operator is not None:
        return operator == approver
    names = (approver.name.casefold(), approver.identity.casefold())
    return run.incident.options.operator.casefold() in names


def _age(signed_at: str) -> float | None:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(signed_at)).total_seconds()
    except ValueError:
        return None


def _signed_keys(env: Environment) -> bool:
    return any(person.public_key for person in env.people)


def problem(run: Run) -> str | None:
    """Why this run's approval does not satisfy §4.2 (None: it does, or it is pending under a
    critical emergency, or it is the dry-run being planned for approval)."""
    env, opts = run.site.env, run.incident.options
    unproven = env.approval == "required" and env.sandbox is None and not opts.signing_key
    if unproven and run.site.mode is Mode.EXECUTE:
        return (
            f"environment {env.name} requires approval, and so a proven operator: sign the record "
            "with your own key (--signing-key ~/.ssh/id_ed25519, the key of your entry in "
            "people) — the environment's key proves the files, not who ran them"
        )
    if opts.approval is not None:
        return _statement_problem(run)
    if opts.approved_by and env.people:  # a name given is checked, emergency or not
        named = _named_problem(run, opts.approved_by)
        if named:
            return named
    if run.site.mode is Mode.DRY_RUN or opts.severity == "CRITICO":
        return None
    if env.approval == "required" and _signed_keys(env):
        return (
            f"environment {env.name} requires a signed approval of the plan: run the dry-run "
            f"(--dry-run), have one of {_approvers(env)} run `rollbook approve "
            "reports/<dry-run>`, then pass --approval FILE (PROCED-BACK-003 §4.2)"
        )
    if not opts.approved_by:
        if env.approval == "required":
            return (
                f"environment {env.name} requires approval: give --approved-by "
                '"<Tech Lead or Incident Manager>" (PROCED-BACK-003 §4.2)'
            )
        return None
    return _named_problem(run, opts.approved_by)


def _named_problem(run: Run, name: str) -> str | None:
    env = run.site.env
    if not env.people:
        return None  # no people in the environment file: the name is taken as given
    person = people.find(env, name)
    if person is None:
        return (
            f"--approved-by {name!r} is nobody in {env.source} (people): name one of "
            + _approvers(env)
        )
    if not set(person.roles) & set(env.approvers):
        return (
            f"--approved-by {person.name} holds no approving role ({', '.join(env.approvers)}): "
            f"name one of {_approvers(env)}"
        )
    if _same_person(run, person):
        return f"--approved-by {person.name} is the operator: four eyes — another approver signs"
    return None


def _statement_problem(run: Run) -> str | None:
    assert run.incident.options.approval is not None
    if not run.incident.options.signing_key:
        return (
            "--approval needs the operator's own key, --signing-key FILE: four eyes compares "
            "the approver with the person whose key runs the rollback"
        )
    try:
        signed = statements.read(run.incident.options.approval, run.site.env)
    except UserError as exc:
        return str(exc)
    statement = signed.statement
    age = _age(str(statement.get("signed_at")))
    if age is None or age > run.site.env.approval_valid_for:
        return (
            f"{signed.path.name} was signed {statement.get('signed_at')}, longer ago than "
            f"approval_valid_for ({run.site.env.approval_valid_for / 3600:g} h): plan and approve "
            "again"
        )
    if statement.get("kind") != "approval":
        return f"{signed.path.name} is a {statement.get('kind')}, not an approval of a plan"
    if statement.get("environment") != run.site.env.name:
        return (
            f"{signed.path.name} approves a plan for {statement.get('environment')}, "
            f"not {run.site.env.name}"
        )
    if statement.get("role") not in set(signed.person.roles) & set(run.site.env.approvers):
        return f"{signed.person.name} holds no approving role {statement.get('role')!r} now"
    if _same_person(run, signed.person):
        return (
            f"{signed.path.name} is signed by {signed.person.name}, the operator: four eyes — "
            f"the approval must come from another of {_approvers(run.site.env)}"
        )
    named = run.incident.options.approved_by
    if named and people.find(run.site.env, named) != signed.person:
        return (
            f"--approved-by {named!r} is not who signed {signed.path.name} ({signed.person.name})"
        )
    return None


def replan(run: Run) -> dict[str, Any]:
    """A dry-run with this run's options, in a scratch report folder: its plan.json."""
    opts, made = run.incident.options, run.incident.journal.facts()["provenance"]
    features = [str(provenance.ROOT / name) for name in made["features"]]
    args = [*replan_arguments(opts), "--dry-run", "-q"]
    with tempfile.TemporaryDirectory(prefix="rollbook-replan-") as scratch:
        command = [sys.executable, "-m", "pytest", *features, *args, f"--report-dir={scratch}"]
        environments = {"ROLLBOOK_ENVIRONMENTS": str(environments_dir().resolve())}
        child = subprocess.Popen(
            command,
            cwd=provenance.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            env={**os.environ, **environments},
        )
        try:
            output, _ = child.communicate(timeout=_REPLAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(child)
            raise StepFailed(f"planning again took over {_REPLAN_TIMEOUT:.0f}s") from None
        except BaseException:  # interrupted: the dry-run stops too, its Pasos cleaning up
            _stop(child)
            raise
        plans = list(Path(scratch).glob("*/plan.json"))
        if plans and not (plans[0].parent / signing.SIGNATURE).is_file():
            raise StepFailed("planning again: its plan could not be signed with your key")
        if child.returncode != 0 or len(plans) != 1:
            lines = output.strip().splitlines()
            why = [line for line in lines if re.search(r"\.feature:\d+: ", line)] or lines[-3:]
            raise StepFailed(
                "planning again to compare with the approved plan failed: " + " / ".join(why)
            )
        return json.loads(plans[0].read_text(encoding="utf-8"))


def _stop(child: subprocess.Popen[str]) -> None:
    """SIGINT to the dry-run's process group (a trial restore drops its copy), then SIGKILL."""
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGINT)
    try:
        child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()


def establish(run: Run) -> dict[str, Any]:
    """Paso 1.1: the approval as it stands, recorded; StepFailed before any change otherwise."""
    why = problem(run)
    if why:
        raise StepFailed(why)
    opts = run.incident.options
    if opts.approval is not None:
        signed = statements.read(opts.approval, run.site.env)
        fact = {
            "status": SIGNED,
            "approver": signed.person.name,
            "identity": signed.person.identity,
            "role": signed.statement["role"],
            "signed_at": signed.statement["signed_at"],
            "plan_sha256": signed.statement["plan_sha256"],
            "plan_incident": signed.statement.get("plan_incident"),
            "statement": str(signed.path),
            "fingerprint": signing.fingerprint(people.public_key_line(signed.person)),
            "situation": situation(signed.statement.get("symptoms")),
        }
        if run.site.mode is Mode.EXECUTE:
            run.incident.say(
                f"approval by {signed.person.name} ({fact['role']}): planning again to compare"
            )
            plan = replan(run)
            now = digest(plan)
            if now != fact["plan_sha256"]:
                changed = differences(signed.statement.get("plan") or {}, bound(plan))
                raise StepFailed(
                    f"the approval of {signed.person.name} covers plan {fact['plan_sha256'][:16]} "
                    f"({fact['plan_incident']}), not this rollback's plan {now[:16]}: differs in "
                    f"{', '.join(changed) or 'its digest'} — run the dry-run again and have it "
                    "approved, or give the options of the approved plan"
                )
            _keep(run, signed)
        return run.incident.note("approval", **fact)
    if run.site.mode is Mode.DRY_RUN and not opts.approved_by:
        return run.incident.note(
            "approval",
            status=PENDING,
            approver=None,
            reason="dry-run: this plan is what an approver signs (rollbook approve)",
        )
    if opts.severity == "CRITICO" and (run.site.env.approval == "required" or not opts.approved_by):
        return run.incident.note(
            "approval",
            status=PENDING,
            approver=opts.approved_by,
            reason="emergencia crítica (§11.1.1): sin aprobación previa; la refrenda "
            f"{_approvers(run.site.env)} con `rollbook sign-off`",
        )
    if not opts.approved_by:
        return run.incident.note("approval", status="no requerida", approver=None)
    person = people.find(run.site.env, opts.approved_by)
    return run.incident.note(
        "approval",
        status="declarada (sin firma)",
        approver=person.name if person else opts.approved_by,
        role=", ".join(r for r in person.roles if r in run.site.env.approvers) if person else None,
    )


def uncovered(run: Run, fact: dict[str, Any] | None) -> str | None:
    """Paso 1.1's criterion: why the recorded approval does not cover this run (None: it does).
    A pending approval covers only a dry-run or a critical emergency; an approval declared
    without a signature, only where the environment asks for no signed one."""
    env = run.site.env
    if not fact:
        return "no approval was recorded"
    status = fact["status"]
    if status == SIGNED:
        return None if fact.get("plan_sha256") else "a signed approval without its plan's digest"
    if status == PENDING:
        if run.site.mode is Mode.DRY_RUN or run.incident.options.severity == "CRITICO":
            return None
        return (
            f"approval pending in a run of severity {run.incident.options.severity}, not critical"
        )
    if env.approval == "required" and _signed_keys(env):
        return f"approval {status} where {env.name} requires one signed over the plan"
    if status == "no requerida" and env.approval == "required":
        return f"no approval where {env.name} requires one"
    return None


def _keep(run: Run, signed: statements.Signed) -> None:
    """The approval and its signature go into the incident folder (hashed and signed with it)."""
    target = run.incident.folder / "approval"
    target.mkdir(exist_ok=True)
    for path in (signed.path, signed.path.with_name(signed.path.name + ".sig")):
        (target / path.name).write_bytes(path.read_bytes())


def summary(fact: dict[str, Any] | None) -> str:
    if not fact:
        return "n/d"
    if fact["status"] == SIGNED:
        key = f", clave {fact['fingerprint']}" if fact.get("fingerprint") else ""
        seen = f"; situación que vio: {fact['situation']}" if fact.get("situation") else ""
        return (
            f"firmada por {fact['approver']} ({fact['role']}{key}) el {fact['signed_at']} sobre "
            f"el plan {fact['plan_sha256'][:16]} ({fact['plan_incident']}){seen}"
        )
    if fact["status"] == PENDING:
        return f"aprobación pendiente — {fact.get('reason', '')}"
    who = f" — {fact['approver']}" if fact.get("approver") else ""
    return f"{fact['status']}{who}"
