"""The `rollbook` command line."""

from __future__ import annotations

import argparse
import sys

from rollbook import sandbox
from rollbook.errors import UserError
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
    else:
        getattr(sandbox, args.action)()
    return 0


def _add_sandbox(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="a small real copy of the staging server on 127.0.0.1, to roll back first",
        description="Provision and run the sandbox described by environments/sandbox.yaml.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "up", help="provision the sandbox (the first time) and start what is not running"
    ).set_defaults(handler=_sandbox_action)
    down = actions.add_parser("down", help="stop everything the sandbox started")
    down.add_argument("--purge", action="store_true", help="also delete every file it made")
    down.set_defaults(handler=_sandbox_action)
    actions.add_parser(
        "reset", help="go back to the start state (defective release deployed, fresh backups)"
    ).set_defaults(handler=_sandbox_action)
    actions.add_parser(
        "status", help="one line per component; exit 0 when everything is up"
    ).set_defaults(handler=_sandbox_status)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollbook", description="PROCED-BACK-003 (deployment rollback), executable."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sandbox(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UserError, SandboxError) as error:
        print(f"rollbook: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rollbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
