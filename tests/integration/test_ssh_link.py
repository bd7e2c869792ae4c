"""A remote command whose SSH link dies mid-command: the call ends on its own (keep-alives),
well before the command's bound, as a connection failure that fails its Paso."""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.core.host import LINK_LOST, Host, Transported
from rollbook.sandbox.shell import wait_for
from rollbook.sandbox.sshd import Sshd, new_key, start_sshd


def descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(c) for c in children.read_text().split()] if children.is_file() else []
    return found + [d for c in found for d in descendants(c)]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Sshd, str]]:
    sshd = start_sshd(tmp_path / "sshd")
    key = new_key(tmp_path / "key")
    sshd.authorized_keys.write_text(key.with_suffix(".pub").read_text())
    yield sshd, sshd.spec(getpass.getuser(), key)
    sshd.stop()


def test_a_frozen_link_ends_the_call_through_keepalives(server: tuple[Sshd, str]) -> None:
    sshd, spec = server
    listener = int(sshd.pidfile.read_text())
    host = Host(spec, "link-test")
    assert host.transport("echo up", bound=30).stdout == "up\n"
    done: list[Transported] = []
    call = threading.Thread(target=lambda: done.append(host.transport("sleep 300", bound=300)))
    call.start()
    wait_for(lambda: any("sleep 300" in cmdline(p) for p in descendants(listener)),
             "the command running in its SSH session", 30)  # fmt: skip
    frozen = descendants(listener)  # the session's sshd processes and the command
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        call.join(timeout=300 + 60)
    finally:
        for pid in frozen:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
    [result] = done
    # ssh's own verdict (255, the server stopped answering keep-alives), not the local bound's
    assert result.exit_status == 255 != LINK_LOST, result
