"""A host setting rollbook would ignore is refused before anything runs, in one line: a user on
local:// (it runs as the login user), an Ansible inventory's become."""

from pathlib import Path

import pytest

from rollbook.core import inventory
from rollbook.core.errors import UserError


def test_a_user_on_local_is_refused() -> None:
    with pytest.raises(UserError, match=r"hosts.app: local://appuser@ names 'appuser@'"):
        inventory.expand("app", ["local://appuser@"])
    assert inventory.expand("app", ["local://"]) == ["local://"]


@pytest.mark.parametrize("become", ["ansible_become=true", "ansible_become_user=appuser"])
def test_an_inventory_become_is_refused(tmp_path: Path, become: str) -> None:
    hosts = tmp_path / "hosts.ini"
    hosts.write_text(f"[app]\nweb1 ansible_host=127.0.0.1 ansible_user=deploy {become}\n")
    spec = f"ansible://app?ansible_inventory={hosts}"
    with pytest.raises(UserError) as refused:
        inventory.expand("app", [spec])
    said = str(refused.value)
    assert said.startswith(f"hosts.app: {hosts} sets {become} for web1, which rollbook does not")
    assert "\n" not in said


def test_an_inventory_without_become_is_expanded(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.ini"
    hosts.write_text("[app]\nweb1 ansible_host=127.0.0.1 ansible_become=false\nweb2\n")
    spec = f"ansible://app?ansible_inventory={hosts}"
    assert inventory.expand("app", [spec]) == [
        f"ansible://web1?ansible_inventory={hosts}",
        f"ansible://web2?ansible_inventory={hosts}",
    ]


def test_a_become_to_the_app_user_is_applied_through_app_user(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.ini"
    hosts.write_text(
        "[app]\nweb1 ansible_user=deploy ansible_become=true ansible_become_user=appuser\n"
    )
    spec = f"ansible://app?ansible_inventory={hosts}"
    assert inventory.expand("app", [spec], app_user="appuser") == [
        f"ansible://web1?ansible_inventory={hosts}"
    ]
    with pytest.raises(UserError, match=r"or set app\.user: appuser in the environment$"):
        inventory.expand("app", [spec], app_user="other")
