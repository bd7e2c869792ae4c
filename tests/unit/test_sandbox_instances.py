"""Sandbox instances side by side: each its own folder, ports, users and environment files, and
no instance held by two checkouts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rollbook.core.config import ENVIRONMENTS_DIR, load_file
from rollbook.core.errors import UserError
from rollbook.sandbox import instance

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ports(text: str) -> set[int]:
    """Every port an environment file names: 127.0.0.1:P and the `*port:` keys."""
    found = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)}
    return found | {int(p) for p in re.findall(r"(?m)^\s*\w*port:\s*(\d+)", text)}


@pytest.mark.parametrize("n", [1, instance.LARGEST])
def test_an_instance_has_its_own_ports_folder_and_users(n: int, tmp_path: Path) -> None:
    low, _ = (int(x) for x in EPHEMERAL.read_text().split())
    theirs: set[int] = set()
    for source in sorted(ENVIRONMENTS_DIR.glob("sandbox*.yaml")) + sorted(
        ENVIRONMENTS_DIR.glob("fleet*.yaml")
    ):
        text = source.read_text()
        mine = instance.shifted(text, n)
        assert ports(mine) == {p + n * instance.PORT_STEP for p in ports(text)}, source.name
        assert all(p < min(low, 32768) for p in ports(mine)), source.name
        assert "../.sandbox" not in mine and "rollbook-app1@" not in mine
        theirs |= ports(text)
        (tmp_path / source.name).write_text(mine)
    env = load_file(tmp_path / "sandbox.yaml")
    root = instance.root(n)
    assert env.app.path == str(root / "www" / "iact-backend")
    assert env.database.backups == str(root / "backups")
    assert env.sandbox is not None and env.sandbox.redis_port == 26379 + n * instance.PORT_STEP
    fleet = yaml.safe_load((tmp_path / "fleet-ssh.yaml").read_text())
    assert fleet["hosts"]["app"][0].startswith(f"ssh://{instance.fleet_user(1, n)}@")
    # no port of instance n is one of instance 0's
    assert not ports((tmp_path / "sandbox.yaml").read_text()) & theirs


def test_an_instance_number_out_of_range_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"from 0 to {instance.LARGEST}"):
        instance.number(str(instance.LARGEST + 1))
    done = subprocess.run(
        [sys.executable, "-m", "rollbook.cli", "sandbox", "status", "--instance", "x"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ENVIRONMENTS_DIR.parent,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"'x': give a number from 0 to {instance.LARGEST}" in done.stderr


def test_an_instance_held_by_another_checkout_is_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another checkout's live claim (its process runs) keeps the number from this one;
    a dead claim frees it."""
    monkeypatch.setattr(instance, "REGISTRY", tmp_path / "registry")
    other = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "registry").mkdir()
        (tmp_path / "registry" / "0").write_text(f"/elsewhere/checkout\n{other.pid}\n")
        assert instance.holder(0) == Path("/elsewhere/checkout")
        assert instance.choose() == 1
        with pytest.raises(UserError, match="held by the checkout /elsewhere/checkout"):
            instance.claim(0)
        assert instance.holder(1) == instance.REPO  # this process's claim
    finally:
        other.kill()
        other.wait()
    assert instance.holder(0) is None  # its process ended, its sandbox never ran
    assert instance.choose() == 0
    assert os.getpid() == int((tmp_path / "registry" / "0").read_text().split()[1])
