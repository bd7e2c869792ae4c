"""An app host whose services run under a real systemd: the procedure's literal `systemctl stop
gunicorn celery` / `systemctl start …`, and errors read with `journalctl -u`.

systemd runs as PID 1 of its own PID, mount and UTS namespaces (../shared/NOTES.md; it names its
host from /etc/hostname, in its own UTS namespace), reached over
SSH as root through an sshd unit inside; the network is the machine's (distinct ports). A systemd
that boots the distribution's units would run their boot services against this machine
(systemd-tmpfiles-setup empties /tmp, udev triggers devices, timesyncd sets the clock): so before
it starts, tmpfs is mounted in its own mount namespace over every unit and generator folder,
/run and /var/log/journal, and it boots `rollbook.target` with only the units
written here, none with default dependencies. Stopped by SIGKILL to systemd (everything in the
namespace ends with it); the cgroups it made are removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from rollbook.sandbox import supervisor
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.shell import (
    SandboxError,
    ensure_port_free,
    port_is_free,
    require_binary,
    say,
    wait_for,
)
from rollbook.sandbox.sshd import CLIENT_CONFIG, Sshd, new_key

CGROUPS = Path("/sys/fs/cgroup/systemd")
# systemd makes its cgroups in the machine's one hierarchy: two systemd hosts would share
# system.slice/gunicorn.service, and stopping one would stop the other's. One per machine.
OWNER = Path("/var/tmp/rollbook-sandbox-systemd.owner")
# /tmp stays: the sandbox (its checkout, its units) may live there, and no unit that cleans it
# (systemd-tmpfiles-setup) exists in this systemd
HIDDEN = (
    "/run",
    "/var/log/journal",
    "/etc/systemd/system",
    "/etc/systemd/system-generators",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/usr/lib/systemd/system-generators",
    "/usr/local/lib/systemd/system",
)
BOOT = """set -e
units="$1"; shift
for folder in "$@"; do
  if [ -d "$folder" ]; then mount -t tmpfs -o mode=0755 tmpfs "$folder"; fi
done
cp "$units"/* /etc/systemd/system/
exec /lib/systemd/systemd --system --unit=rollbook.target
"""
JOURNALD = {
    "systemd-journald.socket": (
        "[Unit]\nDefaultDependencies=no\n[Socket]\nListenDatagram=/run/systemd/journal/socket\n"
        "ListenStream=/run/systemd/journal/stdout\nPassCredentials=yes\nPassSecurity=yes\n"
        "SocketMode=0666\nService=systemd-journald.service\n"
    ),
    "systemd-journald.service": (
        "[Unit]\nDefaultDependencies=no\nRequires=systemd-journald.socket\n"
        "After=systemd-journald.socket\n[Service]\nExecStart=/lib/systemd/systemd-journald\n"
        "Sockets=systemd-journald.socket\nType=notify\nRuntimeDirectory=systemd/journal\n"
        "RuntimeDirectoryPreserve=yes\nStandardOutput=null\n"
    ),
}


def folder(layout: Layout) -> Path:
    return layout.root / "systemd"


def _service(description: str, workdir: Path, env: dict[str, str], command: str) -> str:
    environment = "".join(f'Environment="{key}={value}"\n' for key, value in env.items())
    return (
        f"[Unit]\nDescription={description}\nDefaultDependencies=no\n"
        "After=systemd-journald.socket\n"
        f"[Service]\nWorkingDirectory={workdir}\n{environment}ExecStart={command}\n"
        "KillMode=mixed\nTimeoutStopSec=20\n"
    )


def units(layout: Layout, sshd_config: Path) -> dict[str, str]:
    """The only units this systemd knows: journald, sshd, the app's gunicorn and celery."""
    bin_dir, env = layout.venv / "bin", layout.env
    assert env.celery is not None  # the sandbox's worker is a celery worker (load_layout)
    gunicorn = (
        f"{bin_dir}/gunicorn config.wsgi:application -b 127.0.0.1:{layout.ports.gunicorn}"
        " --workers 2 --control-socket /run/gunicorn.ctl"
    )
    celery = f"{bin_dir}/celery -A {env.celery.app} worker --concurrency 1 --loglevel INFO"
    return {
        **JOURNALD,
        "sshd.service": (
            "[Unit]\nDefaultDependencies=no\n[Service]\nRuntimeDirectory=sshd\n"
            f"ExecStart=/usr/sbin/sshd -D -f {sshd_config} -E {sshd_config.parent / 'sshd.log'}\n"
        ),
        "gunicorn.service": _service("gunicorn", layout.app, env.app.env, gunicorn),
        "celery.service": _service("celery worker", layout.app, env.app.env, celery),
        "rollbook.target": (
            "[Unit]\nDescription=rollbook sandbox: an app host under systemd\n"
            "DefaultDependencies=no\nWants=systemd-journald.service sshd.service "
            "gunicorn.service celery.service\n"
        ),
    }


def _sshd(here: Path, key: Path, port: int) -> tuple[Sshd, Path]:
    server = Sshd(here / "sshd", port)
    server.folder.mkdir(parents=True, exist_ok=True)
    host_key = server.folder / "ssh_host_ed25519_key"
    if not host_key.exists():
        new_key(host_key)
    server.authorized_keys.write_text(Path(f"{key}.pub").read_text())
    server.client_config.write_text(CLIENT_CONFIG)
    config = server.folder / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {server.port}\nHostKey {host_key}\nPidFile none\n"
        f"AuthorizedKeysFile {server.authorized_keys}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nLogLevel ERROR\n"
    )
    return server, config


def up(layout: Layout) -> str:
    """Start the systemd host (the supervisord's app programs stopped: the same ports); its
    host spec for the environment file."""
    if os.geteuid() != 0:
        raise SandboxError("the systemd host needs root (namespaces, mounts, cgroups)")
    systemd = require_binary("/lib/systemd/systemd", "apt-get install systemd")
    unshare = require_binary("unshare", "apt-get install util-linux")
    here = folder(layout)
    down(layout)
    _claim(here)
    here.mkdir(parents=True, exist_ok=True)
    key = here / "id_ed25519"
    if not key.exists():
        new_key(key)
    assert layout.env.sandbox is not None  # load_layout requires it
    port = layout.env.sandbox.systemd_ssh_port
    ensure_port_free(port, "the systemd host's sshd", "sandbox.systemd_ssh_port")
    server, config = _sshd(here, key, port)
    (here / "units").mkdir(exist_ok=True)
    for name, text in units(layout, config).items():
        (here / "units" / name).write_text(text)
    (here / "cgroups-before").write_text("\n".join(_cgroups()))
    supervisor.stop_running(layout, supervisor.app_programs(layout))
    say(f"starting a systemd host ({systemd} in its own namespaces, sshd on {server.port}) ...")
    process = subprocess.Popen(
        [
            unshare,
            "--pid",
            "--mount",
            "--uts",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "--kill-child=SIGKILL",
            "env",
            "container=rollbook-sandbox",
            "sh",
            "-c",
            BOOT,
            "sh",
            str(here / "units"),
            *HIDDEN,
        ],
        stdin=subprocess.DEVNULL,
        stdout=(here / "boot.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (here / "unshare.pid").write_text(str(process.pid))
    wait_for(
        lambda: not port_is_free(server.port),
        f"the systemd host's sshd on {server.port}",
        30,
        f": see {here / 'boot.log'}",
    )
    url = layout.env.health.url
    wait_for(
        lambda: http_status(url) is not None,
        f"gunicorn under systemd answering {url}",
        60,
        f": see `journalctl -u gunicorn` in the host ({here})",
    )
    return server.spec("root", key)


def down(layout: Layout) -> None:
    """Stop the systemd host: SIGKILL to systemd ends its namespace; its cgroups removed."""
    here = folder(layout)
    pidfile = here / "unshare.pid"
    if not pidfile.is_file():
        return
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().strip())
        children = Path(f"/proc/{pid}/task/{pid}/children")
        for child in children.read_text().split() if children.is_file() else []:
            os.kill(int(child), signal.SIGKILL)  # systemd, PID 1 of the namespace
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        if OWNER.read_text().strip() == str(here):
            OWNER.unlink()
    listed = here / "cgroups-before"
    before = set(listed.read_text().split()) if listed.is_file() else set()
    for path in sorted(set(_cgroups()) - before, key=lambda p: -p.count("/")):
        with contextlib.suppress(OSError):
            os.rmdir(path)
    say("the systemd host is down")


def _claim(here: Path) -> None:
    """The machine's systemd host is this instance's from now on, unless another instance's
    runs: then a one-line error naming it."""
    with contextlib.suppress(OSError):
        other = Path(OWNER.read_text().strip())
        if other != here and (other / "unshare.pid").is_file():
            raise SandboxError(
                f"another sandbox instance's systemd host is up ({other}): one per machine (they "
                "share the cgroup hierarchy) — take it down with `rollbook sandbox down "
                "--instance N` (N of that instance) first"
            )
    OWNER.write_text(str(here))


def _cgroups() -> list[str]:
    """The folders of systemd's named cgroup hierarchy (systemd makes its own there)."""
    if not CGROUPS.is_dir():
        return []
    return sorted(str(p) for p in CGROUPS.rglob("*") if p.is_dir())
