"""The `rollbook` command line."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from rollbook import sandbox
from rollbook.actions import ledger
from rollbook.core import inventory
from rollbook.core.config import Environment, load_environment
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.executor import Executor, Mode
from rollbook.core.journal import Journal
from rollbook.core.redact import Redactor
from rollbook.governance import addenda, approval, people, sign_off, signing
from rollbook.record import procedure
from rollbook.sandbox import bulk, demo, instance
from rollbook.sandbox.faults import FAULTS, make_fault
from rollbook.sandbox.layout import PROFILES
from rollbook.sandbox.shell import SandboxError


def _sandbox_status(_: argparse.Namespace) -> int:
    components = sandbox.status()
    width = max(len(name) for name, _, _ in components)
    for name, state, ok in components:
        print(f"{'ok' if ok else '!!'}  {name:<{width}}  {state}")
    return 0 if all(ok for _, _, ok in components) else 1


def _sandbox_action(args: argparse.Namespace) -> int:
    if args.action == "down":
        sandbox.down(purge=args.purge)
    elif args.action == "up":
        if args.app_hosts is not None and args.app_hosts < 1:
            raise UserError(f"--app-hosts {args.app_hosts}: give 1 (one host) or more")
        sandbox.up(app_hosts=args.app_hosts, systemd=args.systemd, profile=args.profile)
        if instance.current():  # the engine reads this instance's files where they are named
            print(
                f"sandbox instance {instance.current()}: run the features with "
                f"ROLLBOOK_ENVIRONMENTS={instance.environments(instance.current())}"
            )
    else:
        getattr(sandbox, args.action)()
    return 0


def _sandbox_environments(_: argparse.Namespace) -> int:
    print(instance.environments(instance.current()))
    return 0


def _sandbox_fault(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for fault in FAULTS.values():
            print(f"{fault.name:<22} Paso {fault.paso:<5} {fault.what}")
        return 0
    options = make_fault(args.name)
    if options:
        print(" ".join(options))
    return 0


def _instance_of(args: argparse.Namespace) -> int:
    """--instance; else the one this process was started for; else the one this checkout's
    sandbox runs on; else the first one free."""
    if args.instance is not None:
        return int(args.instance)
    if os.environ.get(instance.VARIABLE):
        return instance.current()
    running = instance.held()
    return instance.choose() if running is None else running


def _instance(text: str) -> int:
    try:
        return instance.number(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--instance ")) from None


def _add_sandbox(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="a small real copy of the staging server on 127.0.0.1, to roll back first",
        description="Provision and run the sandbox described by environments/sandbox.yaml.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    which = argparse.ArgumentParser(add_help=False)
    which.add_argument(
        "--instance",
        type=_instance,
        metavar="N",
        help="the sandbox instance to act on: 0 (the default) is .sandbox/ and environments/; "
        f"N (up to {instance.LARGEST}) is .sandbox-N/, its ports {instance.PORT_STEP}*N higher "
        "and its environment files in .sandbox-N/environments/",
    )
    up = actions.add_parser(
        "up",
        parents=[which],
        help="provision the sandbox (the first time) and start what is not running",
    )
    up.add_argument(
        "--app-hosts",
        type=int,
        metavar="N",
        help="N app hosts over SSH (environments/fleet.yaml); 1: the single host (default: as "
        "the last up)",
    )
    up.add_argument(
        "--systemd",
        action="store_true",
        help="the app's services under a real systemd in its own namespaces, over SSH "
        "(environments/sandbox-systemd.yaml); `reset` and `down` stop it",
    )
    up.add_argument(
        "--profile",
        choices=PROFILES,
        help="also a real third-party app deployed beside the demo app, in its start state "
        "(environments/sandbox-NAME.yaml; wagtail: a Wagtail site from PyPI)",
    )
    up.set_defaults(handler=_sandbox_action)
    down = actions.add_parser("down", parents=[which], help="stop everything the sandbox started")
    down.add_argument("--purge", action="store_true", help="also delete every file it made")
    down.set_defaults(handler=_sandbox_action)
    actions.add_parser(
        "reset",
        parents=[which],
        help="go back to the start state (defective release deployed, fresh backups)",
    ).set_defaults(handler=_sandbox_action)
    actions.add_parser(
        "status", parents=[which], help="one line per component; exit 0 when everything is up"
    ).set_defaults(handler=_sandbox_status)
    actions.add_parser(
        "demo",
        parents=[which],
        help="the rollback with four eyes: plan, the Tech Lead's signed approval, the run",
    ).set_defaults(handler=lambda args: demo.run())
    actions.add_parser(
        "environments",
        parents=[which],
        help="print the folder of the instance's environment files (for ROLLBOOK_ENVIRONMENTS)",
    ).set_defaults(handler=_sandbox_environments)
    fault = actions.add_parser(
        "fault",
        parents=[which],
        help="make a realistic fault (undone by reset); --list shows them",
    )
    fault.add_argument("name", nargs="?", help="the fault to make")
    fault.add_argument("--list", action="store_true", help="list the faults")
    fault.set_defaults(handler=_sandbox_fault)
    grow = actions.add_parser(
        "grow",
        parents=[which],
        help="a database of a chosen size for the benchmark (kept by reset; 0 undoes it)",
    )
    grow.add_argument("--size-mb", type=int, required=True, help="MB of order events to add")
    grow.add_argument(
        "--after-backup-percent",
        type=float,
        default=0.0,
        help="the newest %% of those rows missing from the nightly backup",
    )
    grow.set_defaults(handler=lambda args: bulk.grow(args.size_mb, args.after_backup_percent) or 0)


def _allowed_signers(args: argparse.Namespace) -> Path | None:
    if args.allowed_signers is not None:
        return Path(args.allowed_signers)
    if args.env is None:
        return None
    signing_config = load_environment(args.env).signing
    if signing_config is None or signing_config.allowed_signers is None:
        raise UserError(
            f"environment {args.env!r} has no signing.allowed_signers: pass --allowed-signers FILE"
        )
    return Path(signing_config.allowed_signers)


# `rollbook verify`'s exit codes, the gravest first (README: "Verifying a record")
VERIFY_GOOD = 0  # signed, unchanged, ran this checkout's files, nothing pending
VERIFY_BAD = 1  # a file, the signature or a sign-off does not hold (or bad input)
VERIFY_DIFFERS = 3  # intact, but what ran is not this checkout's code or procedure
VERIFY_INCOMPLETE = 4  # intact, but a sign-off, the approval or a closing duty is still missing


def _verify(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    allowed = _allowed_signers(args)
    with tempfile.TemporaryDirectory() as scratch:  # the people's keys too, with --env
        if args.env:
            allowed = people.record_signers(load_environment(args.env), allowed, Path(scratch))
        problems = signing.verify_folder(folder, allowed)
    for problem in problems:
        print(f"BAD: {problem}")
    if problems:
        return VERIFY_BAD
    files = len(signing.read_manifest(folder).sums)
    signer = signing.read_signer(folder)
    assert signer is not None  # verify_folder reports a missing SIGNER
    print(f"Good: {folder} ({files} files, signed by {signer.identity})")
    try:
        env = load_environment(args.env) if args.env else sign_off.environment_of(folder)
    except UserError as exc:
        print(f"  people's sign-offs not checked: {exc}")
        found = sign_off.Review()
        found.lines, found.differs = sign_off.code_review(sign_off.provenance_of(folder))
    else:
        found = sign_off.review(folder, env)
    for line in found.lines:
        print(f"  {line}")
    for problem in found.problems:
        print(f"BAD: {problem}")
    if found.problems:
        return VERIFY_BAD
    if found.differs:
        print(
            f"DISTINTO: {len(found.differs)} archivos de lo que corrió no son los de este "
            "checkout (arriba): verifique desde el checkout del commit registrado"
        )
        return VERIFY_DIFFERS
    if found.pending:
        print("INCOMPLETO: " + "; ".join(found.pending))
        return VERIFY_INCOMPLETE
    return VERIFY_GOOD


def _statement_env(args: argparse.Namespace, folder: Path) -> Environment:
    if args.env:
        return load_environment(args.env)
    if (folder / "plan.json").is_file():
        name = approval.read_plan(folder).get("environment")
        if not isinstance(name, str):
            raise UserError(f"{folder}/plan.json names no environment: pass --env NAME")
        return load_environment(name)
    return sign_off.environment_of(folder)


def _approve(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    signed = approval.approve(folder, _statement_env(args, folder), args.key, args.role)
    plan = signed.statement
    print(
        f"approved by {signed.person.name} ({plan['role']}): plan {plan['plan_sha256'][:16]} of "
        f"{plan['plan_incident']} — target {plan['target']}, backup {plan['backup']}, "
        f"{len(plan['plan']['commands'])} commands\n"
        f"data: database path {plan['plan']['database_path']['path']}; reversing drops "
        f"{plan['counts']['drops'] or 'nothing'}; a restore loses "
        f"{plan['counts']['restore_loss'] or 'rows not counted (no trial restore)'} "
        "(counted at the dry-run)\n"
        f"situation at the dry-run, signed: {approval.situation(plan.get('symptoms'))}\n"
        f"the operator runs the rollback with: --approval {signed.path}"
    )
    return 0


def _sign_off(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    signed = sign_off.sign(folder, _statement_env(args, folder), args.key, args.role)
    print(f"signed off by {signed.person.name} as {args.role}: {signed.path}")
    return 0


def _addendum(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    env = _statement_env(args, folder)
    what, text = addenda.FOLLOW_UP, args.note or ""
    if args.done is None:
        what, text = (
            ("root_cause", args.root_cause) if args.root_cause else ("lessons", args.lessons)
        )
    signed = sign_off.add_addendum(folder, env, args.key, what, text, args.done)
    said = signed.statement.get("follow_up") or addenda.TEXTS[what]
    print(
        f"addendum by {signed.person.name} ({signed.statement['role']}): {said} — "
        f"{signed.path}; the record is unchanged: rollbook verify {folder} lists what is "
        "still open"
    )
    return 0


def _add_statements(subparsers: argparse._SubParsersAction) -> None:
    approve = subparsers.add_parser(
        "approve",
        help="sign a dry-run's plan with your own key (four eyes: the operator runs it with "
        "--approval FILE)",
        description="Sign the plan of a dry-run folder (its digest: target, backup, environment "
        "file, procedure files, the mutating commands) with your SSH key (ssh-agent: give the "
        ".pub). You must be in the environment's people with an approving role.",
    )
    sign = subparsers.add_parser(
        "sign-off",
        help="sign an incident record off in your role (§3.1, §14)",
        description="Sign the record's SHA256SUMS with your own key, in one of your roles; "
        "`rollbook verify` lists the signers and the sign-offs still missing.",
    )
    addendum = subparsers.add_parser(
        "addendum",
        help="add a signed addendum to an incident record: root cause, lessons, a follow-up done",
        description="Write §7.1's root cause or lessons learned (tech_lead or incident_manager), "
        "or mark one of §7.3's follow-ups done (its owner's role), as a new statement signed "
        "with your own key beside the record; the record itself stays byte-identical. `rollbook "
        "verify` lists the addenda and what is still open or overdue.",
    )
    what = addendum.add_mutually_exclusive_group(required=True)
    what.add_argument("--root-cause", metavar="TEXT", help="§7.1's Causa raíz")
    what.add_argument("--lessons", metavar="TEXT", help="§7.1's Lecciones Aprendidas")
    what.add_argument(
        "--done",
        type=int,
        metavar="N",
        help="follow-up N (as rollbook verify numbers them) is done",
    )
    addendum.add_argument("--note", metavar="TEXT", help="with --done: the ticket, link, …")
    for parser, handler in ((approve, _approve), (sign, _sign_off), (addendum, _addendum)):
        parser.add_argument("folder", metavar="FOLDER", help="reports/<incident>")
        parser.add_argument(
            "--key",
            required=True,
            metavar="FILE",
            help="your SSH key: the private key file, or its .pub with the key in ssh-agent",
        )
        parser.add_argument(
            "--env", metavar="NAME", help="environments/NAME.yaml (default: the folder's)"
        )
        parser.set_defaults(handler=handler)
    approve.add_argument("--role", help="the approving role you sign in (default: your first)")
    sign.add_argument("--role", required=True, help="the role you sign in (tech_lead, dba, …)")


def _add_verify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check an incident folder's signature and every file's sha256",
        description="Check SHA256SUMS.sig against the allowed signers, every hash of SHA256SUMS "
        "and that no file was added, then the people's sign-offs and whether the code, features "
        "and procedure document that ran are this checkout's. Exit 0: all good; 1: BAD (a file, "
        "the signature or a sign-off does not hold); 3: DISTINTO (intact, but what ran differs "
        "from this checkout, each file named); 4: INCOMPLETO (intact, a required sign-off, the "
        "approval or a closing duty still missing: rollbook addendum).",
    )
    parser.add_argument("folder", metavar="FOLDER", help="an incident folder, reports/<incident>")
    parser.add_argument(
        "--allowed-signers", metavar="FILE", help="the signing keys you trust (ssh-keygen format)"
    )
    parser.add_argument(
        "--env", metavar="NAME", help="use signing.allowed_signers of environments/NAME.yaml"
    )
    parser.set_defaults(handler=_verify)


DOCUMENT = Path("procedures/PROCED-BACK-003.md")


def _procedure(args: argparse.Namespace) -> int:
    if args.document is None and not DOCUMENT.is_file():
        raise UserError(
            f"{DOCUMENT}: the procedure document is not in the current directory — "
            "run from the repository or pass --document FILE"
        )
    document = procedure.render(
        [Path(f) for f in args.features],
        args.format,
        Path(args.document) if args.document else DOCUMENT,
        Path(args.plan) if args.plan else None,
    )
    if args.output is None:
        sys.stdout.write(document)
    else:
        try:
            Path(args.output).write_text(document, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{args.output}: cannot write it: {exc.strerror}") from None
    return 0


def _add_procedure(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "procedure",
        help="the procedure document, section by section, with what executes each (runs nothing)",
        description="Render every numbered section of the procedure document with its status and "
        "what covers it: under each Paso its Escenarios and Criterio de Exito (and the commands "
        "of a dry-run plan); manual sections with who does them (§3.1 RACI); a coverage table.",
    )
    parser.add_argument("features", nargs="+", metavar="FEATURE", help="a .feature file")
    parser.add_argument(
        "--document", metavar="FILE", help=f"the procedure document (default: {DOCUMENT})"
    )
    parser.add_argument(
        "--plan", metavar="PLAN_JSON", help="a dry run's reports/<incident-id>/plan.json"
    )
    parser.add_argument("--format", choices=procedure.FORMATS, default="md", help="default: md")
    parser.add_argument("--output", metavar="FILE", help="write there instead of stdout")
    parser.set_defaults(handler=_procedure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollbook", description="PROCED-BACK-003 (deployment rollback), executable."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sandbox(subparsers)
    _add_verify(subparsers)
    _add_statements(subparsers)
    _add_procedure(subparsers)
    _add_ledger(subparsers)
    return parser


def _ledger(args: argparse.Namespace) -> int:
    env = load_environment(args.env)
    with tempfile.TemporaryDirectory() as scratch:  # a listing keeps no journal
        redactor = Redactor()
        journal = Journal(Path(scratch) / "journal.jsonl", redactor)
        executor = Executor(journal, redactor, Mode.READ_ONLY, env.root_actions())
        executor.app_user = env.app.user
        host = executor.host(inventory.expand("app", env.hosts["app"], env.app.user)[0])
        entries = ledger.read(host, env.ledger_file())
        journal.close()
    if not entries:
        print(
            f"{env.name}: the release ledger {env.ledger_file()} is empty or missing — record "
            f"the deployed release: pytest features/validation.feature --env={env.name} "
            "--record-release"
        )
        return 0
    print(f"{env.name}: {env.ledger_file()} (newest first)")
    for entry in reversed(entries):
        why = entry.get("incident") or entry.get("evidence") or ""
        name = entry.get("tag") or str(entry["commit"])[:12]
        print(f"{name:<34} {entry['status']:<17} {ledger.age(entry):>7} ago  {why}")
    return 0


def _add_ledger(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ledger",
        help="the release ledger of an environment: each release seen, its status, its age",
        description="List the release ledger kept beside the app (read-only).",
    )
    parser.add_argument("--env", required=True, help="environment file environments/NAME.yaml")
    parser.set_defaults(handler=_ledger)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "instance"):  # a sandbox command: the instance it acts on
            instance.activate(_instance_of(args))
        return args.handler(args)
    except (UserError, SandboxError, StepFailed) as error:
        print(f"rollbook: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rollbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
