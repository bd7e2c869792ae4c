"""A profile whose app runs as its own no-login user (its environment's `app.user`), the way a
site gives a Django app a locked system account: the checkout, the venv and rollbook's folder
beside them are that user's, the services run as it (`setpriv`, which becomes the user and
execs the program, its HOME the user's: the service manager's pid is the program's), and
rollbook, logged in as root, runs the app's commands as it. One account for every sandbox
instance on the machine.

The sandbox's deploy repository (origin) is a local folder of root's, standing in for a git
server: the account's own git configuration (in its home) trusts it, as git asks of a
repository another user owns.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

from rollbook.sandbox.layout import Layout
from rollbook.sandbox.shell import SandboxError, require_binary

HOME = Path("/var/lib/rollbook-app")  # the account's home: its git configuration, pip's cache
SYSTEM_PYTHON = "/usr/bin/python3"  # the account cannot read an operator's private Python


def base_python(layout: Layout) -> str:
    """The Python the app's venv is made from: the system's where the app runs as its own user."""
    if layout.env.app.user:
        return require_binary(SYSTEM_PYTHON, "apt-get install python3-venv")
    return sys.executable


def run_as(layout: Layout) -> tuple[str, ...]:
    """The words that start a program as the app's user (none: as the sandbox's user)."""
    user = layout.env.app.user
    if not user:
        return ()
    # HOME as a service manager sets it for a user's service (gunicorn keeps a control socket there)
    return (
        "setpriv",
        "--reuid",
        user,
        "--regid",
        user,
        "--init-groups",
        "--",
        "env",
        f"HOME={HOME}",
    )


def ensure(user: str) -> None:
    """The no-login system account `user`, its home holding its git configuration."""
    if os.geteuid() != 0:
        raise SandboxError(
            f"this profile runs its app as the no-login user {user} (app.user): bring it up as "
            "root (useradd, chown), or remove app.user from its environment file"
        )
    try:
        pwd.getpwnam(user)
    except KeyError:
        made = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                "--home-dir",
                HOME,
                user,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:  # another instance may have made it at the same moment
            pwd.getpwnam(user)
        except KeyError:
            raise SandboxError(f"useradd {user} failed: {made.stderr.strip()}") from None
    HOME.mkdir(mode=0o755, exist_ok=True)
    (HOME / ".gitconfig").write_text("[safe]\n\tdirectory = *\n", encoding="utf-8")
    account = pwd.getpwnam(user)
    os.chown(HOME, account.pw_uid, account.pw_gid)


def hand_over(layout: Layout) -> None:
    """The deploy's files become the app user's: the checkout (its static root inside), the
    venv and rollbook's folder beside the checkout (the ledger, the runs' snapshots)."""
    user = layout.env.app.user
    if not user:
        return
    ensure(user)
    ledger = Path(layout.env.ledger_file()).parent
    ledger.mkdir(parents=True, exist_ok=True)
    layout.shell.run(["chown", "-R", f"{user}:{user}", layout.app, layout.venv, ledger])
