"""An OpenSSH server on 127.0.0.1, in a folder of its own: a host the engine reaches over real SSH.

Debian's openssh-server (`make setup` installs it); its own host key, port, pid file and
authorized_keys, so it never touches the machine's sshd. Stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rollbook.core import local_process
from rollbook.sandbox.shell import SandboxError, port_is_free, require_binary, wait_for

SSHD_INSTALL = "apt-get install openssh-server"
# the client side: loopback hosts get a new host key at every start, and nothing may prompt
CLIENT_CONFIG = (
    "Host 127.0.0.1\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
    "  BatchMode yes\n  LogLevel ERROR\n"
)


@dataclass(frozen=True)
class Sshd:
    folder: Path
    port: int

    @property
    def client_config(self) -> Path:
        return self.folder / "ssh_config"

    @property
    def authorized_keys(self) -> Path:
        return self.folder / "authorized_keys"

    def spec(self, user: str, key: Path) -> str:
        """The testinfra host spec of this server for `user` logging in with `key`."""
        return (
            f"ssh://{user}@127.0.0.1:{self.port}?ssh_config={self.client_config}"
            f"&ssh_identity_file={key}"
        )

    @property
    def pidfile(self) -> Path:
        return self.folder / "sshd.pid"

    def is_running(self) -> bool:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return False
        return local_process.alive(pid) and not port_is_free(self.port)

    def stop(self) -> None:
        """SIGTERM to sshd; under unshare (which ignores SIGTERM while its child runs), to
        unshare's child, sshd itself: the namespace and its processes end with it."""
        pidfile = self.folder / "sshd.pid"
        if pidfile.is_file():
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                children = Path(f"/proc/{pid}/task/{pid}/children")
                for child in children.read_text().split() if children.is_file() else []:
                    os.kill(int(child), signal.SIGTERM)
                os.kill(pid, signal.SIGTERM)
            pidfile.unlink(missing_ok=True)


def new_key(path: Path) -> Path:
    """An ed25519 key pair without a passphrase at `path` (and `path`.pub)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sshd(
    folder: Path,
    port: int | None = None,
    mount: tuple[Path, Path] | None = None,
    hostname: str = "",
) -> Sshd:
    """Start sshd in `folder` (daemonised; its pid in folder/sshd.pid); logins by key only.

    `mount` (source, target): a host of its own — sshd runs in new mount and PID namespaces
    where `source` is mounted over `target`, and its own UTS namespace named `hostname` (a
    host has its own name, as celery's workers and `hostname` see it); folder/sshd.pid is then
    unshare's pid, which stops sshd (and with it every process of the namespace) when it gets
    SIGTERM.
    """
    sshd = require_binary("/usr/sbin/sshd", SSHD_INSTALL)
    folder.mkdir(parents=True, exist_ok=True)
    server = Sshd(folder, port or free_port())
    host_key = folder / "ssh_host_ed25519_key"
    if not host_key.exists():
        new_key(host_key)
    server.authorized_keys.touch()
    server.client_config.write_text(CLIENT_CONFIG)
    config = folder / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {server.port}\nHostKey {host_key}\n"
        f"PidFile {'none' if mount else server.pidfile}\n"
        f"AuthorizedKeysFile {server.authorized_keys}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation folder
    if mount:
        _start_in_namespace(
            [sshd, "-D", "-f", str(config), "-E", str(folder / "sshd.log")],
            server,
            mount,
            hostname or folder.name,
        )
    else:
        done = subprocess.run(
            [sshd, "-f", str(config), "-E", str(folder / "sshd.log")],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SandboxError(f"sshd did not start: {done.stderr.strip()} (see {folder}/sshd.log)")
    listening = f"sshd listening on 127.0.0.1:{server.port}"
    wait_for(lambda: not port_is_free(server.port), listening, 10)
    return server


def _start_in_namespace(
    argv: list[str], server: Sshd, mount: tuple[Path, Path], hostname: str
) -> None:
    unshare = require_binary("unshare", "apt-get install util-linux")
    script = 'mount --bind "$1" "$2" && hostname "$3" && shift 3 && exec "$@"'
    process = subprocess.Popen(
        [
            unshare,
            "--mount",
            "--pid",
            "--uts",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "--kill-child=SIGTERM",
            "sh",
            "-c",
            script,
            "sh",
            str(mount[0]),
            str(mount[1]),
            hostname,
            *argv,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(server.folder / "unshare.log").open("w"),
        start_new_session=True,
    )
    server.pidfile.write_text(str(process.pid))
