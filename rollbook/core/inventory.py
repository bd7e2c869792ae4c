"""The hosts of a role: its specs, Ansible groups (`ansible://GROUP?inventory=FILE`) expanded to
one spec per host of the group (inventory order), and a host's short name for messages."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from testinfra.utils.ansible_runner import AnsibleRunner

from rollbook.core.errors import UserError


def expand(role: str, specs: list[str], app_user: str | None = None) -> list[str]:
    """The role's host specs, each Ansible group replaced by its hosts (inventory order). A
    setting rollbook would ignore is refused: a user on local://, an inventory's become other
    than to `app_user` (app.user, which rollbook applies to the app's commands)."""
    hosts: list[str] = []
    for spec in specs:
        url = urlparse(spec)
        if url.scheme == "local" and url.netloc:
            raise UserError(
                f"hosts.{role}: {spec} names {url.netloc!r}, but local:// commands run as the "
                f"login user ({getpass.getuser()}): write local://, and app.user: "
                f"{url.netloc.rstrip('@')} for the app's own commands (or ssh://USER@HOST)"
            )
        hosts += _ansible_hosts(role, spec, app_user) if url.scheme == "ansible" else [spec]
    return hosts


IGNORED_BY_ROLLBOOK = ("ansible_become", "ansible_become_user", "ansible_become_method")
OFF = ("", "false", "no", "0")


def _ansible_hosts(role: str, spec: str, app_user: str | None) -> list[str]:
    url = urlparse(spec)
    inventory = parse_qs(url.query).get("ansible_inventory", [None])[0]
    if not inventory or not Path(inventory).is_file():
        raise UserError(
            f"hosts.{role}: {spec.split('?')[0]} needs ?inventory=FILE naming an existing Ansible "
            f"inventory (got {inventory or 'none'}): fix the path in the environment file"
        )
    _ansible_on_path()
    try:
        names = AnsibleRunner.get_runner(inventory).get_hosts(url.netloc or "all")
    except Exception as exc:  # ansible-inventory's own message: a broken inventory file
        raise UserError(f"hosts.{role}: cannot read the inventory {inventory}: {exc}") from None
    if not names:
        raise UserError(
            f"hosts.{role}: group {url.netloc!r} has no hosts in {inventory}: name a group the "
            "inventory defines"
        )
    runner = AnsibleRunner.get_runner(inventory)
    for name in names:
        variables = runner.get_variables(name)
        ignored = [
            f"{key}={variables[key]}"
            for key in IGNORED_BY_ROLLBOOK
            if str(variables.get(key, "")).lower() not in OFF
        ]
        becomes = str(variables.get("ansible_become_user", "root"))
        hint = "" if becomes == "root" else f", or set app.user: {becomes} in the environment"
        if ignored and not (app_user and becomes == app_user):
            raise UserError(
                f"hosts.{role}: {inventory} sets {', '.join(ignored)} for {name}, which rollbook "
                "does not apply (commands run as ansible_user; root actions through the "
                f"environment's `sudo:`; the app's commands as app.user): remove it{hint}"
            )
    return [f"ansible://{name}?{url.query}" for name in names]


def _ansible_on_path() -> None:
    """testinfra calls `ansible-inventory` by name: the one installed beside this Python."""
    here = str(Path(sys.executable).parent)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def label(spec: str) -> str:
    """A host's short name for messages: user@host:port, the inventory name, or `local`."""
    url = urlparse(spec)
    return url.netloc or url.scheme or spec
