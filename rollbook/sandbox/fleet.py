"""`rollbook sandbox up --app-hosts N`: N app hosts over real SSH on 127.0.0.1 (fleet.yaml).

Each host is an sshd in its own mount, PID and UTS namespaces (unshare; its hostname is its name,
e.g. app2) in which the host's folder fleet/appI is mounted over fleet/host: every host sees its
own checkout, venv, supervisord, logs and gunicorn socket at the same paths, and only its own
processes. Each logs in as its own user
(rollbook-appI) with the key fleet/id_ed25519. They share the sandbox's PostgreSQL and Redis; the
sandbox's nginx balances over their gunicorn sockets. Seen from outside, fleet/host is the image
every host's folder is copied from at `up` and `reset` (its paths are the ones the hosts see).
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

from rollbook.actions.dependencies import PACKAGING, package
from rollbook.core.config import load_environment
from rollbook.sandbox import appvenv, history, instance, nginx, supervisor
from rollbook.sandbox.application import manage
from rollbook.sandbox.credentials import write_app_env
from rollbook.sandbox.dates import Timeline
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.mirror import mirror
from rollbook.sandbox.shell import IS_ROOT, SandboxError, require_binary, say, wait_for
from rollbook.sandbox.sshd import CLIENT_CONFIG, Sshd, new_key, start_sshd

ENVIRONMENT = "fleet"
SIZE_FILE = "fleet-hosts"  # in the sandbox's state folder: how many app hosts `up` keeps


@dataclass(frozen=True)
class AppHost:
    index: int
    root: Path  # .sandbox/fleet
    port: int

    @property
    def name(self) -> str:
        return f"app{self.index}"

    @property
    def user(self) -> str:
        return instance.fleet_user(self.index) if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name

    @property
    def folder(self) -> Path:
        return self.root / self.name

    @property
    def sshd(self) -> Sshd:
        return Sshd(self.root / "sshd" / self.name, self.port)

    @property
    def key(self) -> Path:
        """The key every host of the fleet lets in (the operator's, for these hosts)."""
        return self.root / "id_ed25519"

    @property
    def client_config(self) -> Path:
        return self.root / "ssh_config"

    def ssh(self, *argv: str) -> list[str]:
        """An ssh command line running argv on this host."""
        return [
            "ssh",
            "-F",
            str(self.client_config),
            "-i",
            str(self.key),
            "-p",
            str(self.port),
            f"{self.user}@127.0.0.1",
            "--",
            *argv,
        ]


def fleet_layout(layout: Layout) -> Layout:
    """The sandbox's layout with the app hosts' paths (as every host sees them)."""
    env = load_environment(ENVIRONMENT)
    return replace(
        layout,
        env=env,
        supervisor_conf=Path(str(env.services.supervisor_conf)),
        supervisorctl=env.services.supervisorctl,
        gunicorn_log=Path(env.logs.files[0]),
        celery_log=Path(env.logs.files[1]),
    )


def saved_size(layout: Layout) -> int:
    path = layout.state / SIZE_FILE
    return int(path.read_text()) if path.is_file() else 0


def hosts(layout: Layout, count: int) -> list[AppHost]:
    assert layout.env.sandbox is not None  # load_layout requires the `sandbox:` section
    first = layout.env.sandbox.fleet_ssh_port
    root = layout.root / "fleet"
    return [AppHost(i, root, first + i - 1) for i in range(1, count + 1)]


def sudoers() -> Path:
    """The fleet's sudoers rule, one per sandbox instance."""
    n = instance.current()
    return Path(f"/etc/sudoers.d/rollbook-sandbox{n or ''}-fleet")


def up(layout: Layout, count: int) -> None:
    """Bring the fleet to the start state with `count` app hosts (0: back to the single host).

    If a host cannot be started, every host is stopped and the single host runs again: a half
    fleet is never left behind.
    """
    if count and not IS_ROOT:
        raise SandboxError("the fleet needs root: each app host is a mount namespace (unshare)")
    image = fleet_layout(layout)
    for host in hosts(layout, max(saved_size(layout), count))[count:]:
        _stop_host(layout, image, host)
    (layout.state / SIZE_FILE).write_text(str(count))  # before any host starts: `down` sees it
    if count == 0:
        sudoers().unlink(missing_ok=True)
        nginx.write_config(layout)
        _reload_nginx(layout)
        return
    supervisor.stop_running(layout, layout.env.services.app)  # the single host's app: off
    fleet = hosts(layout, count)
    try:
        _build_image(layout, image)
        _client_files(fleet[0])
        say(f"starting {count} app hosts over SSH ({', '.join(h.name for h in fleet)}) ...")
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda host: _start_host(layout, image, host), fleet))
    except BaseException:
        say("the fleet did not come up: stopping its hosts, the single host runs again")
        up(layout, 0)
        supervisor.start(layout)
        raise
    _write_inventory(fleet)
    _write_sudoers(layout, image, fleet)
    nginx.write_config(
        layout,
        upstream=[real_path(image, h, _socket(image)) for h in fleet],
        static=real_path(image, fleet[0], image.static_root),
    )
    _reload_nginx(layout)
    say(
        f"fleet up: {count} app hosts behind nginx on 127.0.0.1:{layout.ports.nginx} "
        f"(--env=fleet, or --env=fleet-ssh)"
    )


def down(layout: Layout) -> None:
    image = fleet_layout(layout)
    for host in hosts(layout, saved_size(layout)):
        _stop_host(layout, image, host)
    sudoers().unlink(missing_ok=True)


def _write_sudoers(layout: Layout, image: Layout, fleet: list[AppHost]) -> None:
    """The hosts' users may run their service manager, and only it, as root without a password
    (fleet-ssh.yaml: `sudo: true`); sudo logs every command to log/sudo.log."""
    visudo = require_binary("visudo", "apt-get install sudo")
    users = ",".join(host.user for host in fleet)
    text = (
        "# Written by `rollbook sandbox up --app-hosts N`; removed by `down` and --app-hosts 1.\n"
        f"Defaults:{users} logfile={layout.root / 'log' / 'sudo.log'}\n"
        f"{users} ALL=(root) NOPASSWD: {Path(image.supervisorctl)}\n"
    )
    rule = sudoers()
    draft = rule.with_name(f".{rule.name}.new")  # sudo ignores names with a dot
    draft.write_text(text)
    draft.chmod(0o440)
    checked = subprocess.run(
        [visudo, "-c", "-q", "-f", str(draft)], capture_output=True, text=True, check=False
    )
    if checked.returncode != 0:
        draft.unlink()
        raise SandboxError(f"the fleet's sudoers rule is invalid: {checked.stderr.strip()}")
    draft.replace(rule)


def real_path(image: Layout, host: AppHost, path: Path) -> Path:
    """Where a path the hosts see (under fleet/host) is for `host`, seen from outside."""
    return host.folder / path.relative_to(_host_view(image))


def _host_view(image: Layout) -> Path:
    return image.root / "fleet" / "host"


def _socket(image: Layout) -> Path:
    return Path(str(image.env.health.unix_socket))


def _pidfile(image: Layout) -> Path:
    return _host_view(image) / "run" / "supervisord.pid"


def _build_image(layout: Layout, image: Layout) -> None:
    """fleet/host at the start state: the defective release, its venv, .env, static, ledger."""
    tag = history.deployed_tag(layout)
    if tag is None:
        raise SandboxError("the single host has no release deployed: run `rollbook sandbox reset`")
    say(f"preparing the app hosts' image at {tag} ...")
    history.replay_deploys(image, history.stable_tag(layout), tag, Timeline.starting_now())
    write_app_env(image)
    # the hosts' users run the system's Python (the operator's may sit in a private folder)
    python = require_binary("/usr/bin/python3", "apt-get install python3-venv")
    appvenv.ensure_venv(image, python)
    _complete_wheelhouse(layout, image)
    _start_packages(layout, image)
    _install_supervisor(layout, image, python)
    manage(image, "collectstatic", "--noinput", "--clear")
    _copy_ledger(layout, image)
    view = _host_view(image)
    # git refuses a repository another user owns (the sandbox's origin): the hosts' users trust it
    (view / ".gitconfig").write_text(f"[safe]\n\tdirectory = {layout.origin}\n", encoding="utf-8")


def _copy_ledger(layout: Layout, image: Layout) -> None:
    """The single host's ledger, each recorded package set completed with what the hosts'
    Python needs beside it (a marker-dependent package such as async-timeout for redis), its
    packaging tools (when the record has them) at the hosts' own versions."""
    main = json.loads((layout.state / appvenv.SNAPSHOT).read_text(encoding="utf-8"))
    own = appvenv.packages(image)
    extra = [f"{n}=={v}" for n, v in own.items() if n not in main and n not in PACKAGING]
    # the hosts' Python bundles its own pip and setuptools: those are what a host runs with
    tools = [f"{n}=={v}" for n, v in own.items() if n in PACKAGING]
    lines = []
    for line in Path(layout.env.ledger_file()).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("packages"):
            kept = [p for p in entry["packages"] if package(p) not in PACKAGING]
            entry["packages"] = sorted(
                {*kept, *extra, *(tools if len(kept) < len(entry["packages"]) else [])}
            )
        lines.append(json.dumps(entry) + "\n")
    ledger = Path(image.env.ledger_file())
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_text("".join(lines), encoding="utf-8")


def _start_packages(layout: Layout, image: Layout) -> None:
    """The image's venv at the start state's pins (the single host's), checked against the set
    it had the first time (the hosts' Python may add a package for its own markers)."""
    saved = layout.root / "fleet" / "image-packages.json"
    if saved.is_file() and appvenv.packages(image) == json.loads(saved.read_text()):
        return
    appvenv.pip_install(image, "-c", str(layout.state / appvenv.CONSTRAINTS))
    saved.write_text(json.dumps(appvenv.packages(image), indent=1), encoding="utf-8")


def _complete_wheelhouse(layout: Layout, image: Layout) -> None:
    """The wheels the hosts' Python needs too (its own environment markers) and supervisor:
    downloaded once by the image venv's pip from the operator's package index (the pip
    configuration and certificates of the machine; PIP_NO_INDEX lifts the venv's offline rule)."""
    pip = image.venv / "bin" / "pip"
    wanted = _supervisor_requirement()
    marker = layout.wheelhouse / ".fleet-complete"
    listings = sorted(layout.wheelhouse.glob("requirements-*.txt"))
    digest = "\n".join([wanted, *(p.read_text(encoding="utf-8") for p in listings)])
    if marker.is_file() and marker.read_text(encoding="utf-8") == digest:
        return
    say("downloading the app hosts' packages into the wheelhouse (once) ...")
    online = {**os.environ, "PIP_NO_INDEX": "false"}
    for requirement in [*(["-r", str(listing)] for listing in listings), [wanted]]:
        layout.shell.run(
            [pip, "download", "--quiet", "--dest", layout.wheelhouse, *requirement], env=online
        )
    marker.write_text(digest, encoding="utf-8")


def _install_supervisor(layout: Layout, image: Layout, python: str) -> None:
    """The hosts' process manager, in a venv of their own beside the app (fleet.yaml's
    services.supervisorctl), from the wheelhouse (the wheel fetched once)."""
    tools = Path(image.supervisorctl).parent.parent
    if (tools / "bin" / "supervisord").is_file():
        return
    layout.shell.run([python, "-m", "venv", tools])
    layout.shell.run(
        [
            tools / "bin" / "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            layout.wheelhouse,
            _supervisor_requirement(),
        ]
    )


def _supervisor_requirement() -> str:
    """The hosts' supervisor: the version the operator's venv runs."""
    return f"supervisor=={version('supervisor')}"


def _client_files(host: AppHost) -> None:
    if not host.key.is_file():
        new_key(host.key)
    host.client_config.write_text(CLIENT_CONFIG, encoding="utf-8")


def _ensure_user(host: AppHost) -> None:
    """The host's user, its home the folder the host sees (its .gitconfig is read there); a
    user another checkout's sandbox made is moved to this one's."""
    home = str(host.root / "host")
    try:
        if pwd.getpwnam(host.user).pw_dir != home:
            subprocess.run(["usermod", "--home", home, host.user], check=True)
    except KeyError:
        # password `*`: no password login, and not `!` (locked), which sshd without PAM refuses
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/bin/sh",
                "--password",
                "*",
                "--home-dir",
                home,
                host.user,
            ],
            check=True,
        )


def _supervisord_conf(image: Layout, host: AppHost) -> str:
    """The host's supervisord: gunicorn on the host's unix socket, a celery worker (celery's
    default node name, celery@<the host's name>)."""
    view, bin_dir, env = _host_view(image), image.venv / "bin", image.env
    environment = ",".join(f'{k}="{v}"' for k, v in env.app.env.items())
    common = (
        f"directory={image.app}\nenvironment={environment}\nautostart=true\n"
        "autorestart=false\nstartsecs=1\nstopwaitsecs=20\nredirect_stderr=true\n"
        "stopasgroup=true\nkillasgroup=true\nstdout_logfile_maxbytes=0\n"
    )
    return (
        f"; Written by `rollbook sandbox up --app-hosts`: app host {host.name}.\n"
        f"[unix_http_server]\nfile={view}/run/supervisor.sock\nchmod=0700\n\n"
        f"[supervisord]\nlogfile={view}/log/supervisord.log\npidfile={view}/run/supervisord.pid\n"
        f"childlogdir={view}/log\nidentifier=rollbook-{host.name}\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{view}/run/supervisor.sock\n\n"
        f"[program:gunicorn]\ncommand={bin_dir}/gunicorn config.wsgi:application "
        f"-b unix:{_socket(image)} --workers 2\npriority=10\n"
        f"stdout_logfile={image.gunicorn_log}\n{common}\n"
        f"[program:celery]\ncommand={bin_dir}/celery -A {env.celery.app} worker --concurrency 1 "
        f"--loglevel INFO\npriority=20\nstdout_logfile={image.celery_log}\n"
        f"{common}"
    )


def _start_host(layout: Layout, image: Layout, host: AppHost) -> None:
    """The host's folder copied from the image; its sshd and supervisord running; gunicorn up."""
    _ensure_user(host)
    if host.sshd.is_running():
        _stop_supervisord(layout, image, host)
    view = _host_view(image)
    host.folder.mkdir(parents=True, exist_ok=True)
    appvenv.put_back_aside(real_path(image, host, Path(image.venv)))  # the mirror copies less
    mirror(view, host.folder)  # the folder stays: a running sshd has it mounted
    for sub in ("etc", "run", "log/gunicorn", "log/celery"):
        (host.folder / sub).mkdir(parents=True, exist_ok=True)
    (host.folder / "etc" / "supervisord.conf").write_text(_supervisord_conf(image, host))
    subprocess.run(["chown", "-R", f"{host.user}:", str(host.folder)], check=True)
    if not host.sshd.is_running():
        server = start_sshd(
            host.sshd.folder, host.port, mount=(host.folder, view), hostname=host.name
        )
        server.authorized_keys.write_text(host.key.with_suffix(".pub").read_text())
    supervisord = Path(image.supervisorctl).with_name("supervisord")
    _ssh(layout, host, str(supervisord), "-c", str(image.supervisor_conf))
    socket = real_path(image, host, _socket(image))
    url = image.env.health.url
    wait_for(
        lambda: _answers(socket, url),
        f"{host.name}'s gunicorn answering on {socket}",
        60,
        f": see {real_path(image, host, image.gunicorn_log)}",
    )


def socket_status(socket: Path, url: str, bound: float = 5) -> str:
    """The HTTP status `url` answers through the unix socket ("000": nothing answered)."""
    probe = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", f"{bound:g}"]
    done = subprocess.run(
        [*probe, "--unix-socket", str(socket), url], capture_output=True, text=True, check=False
    )
    return done.stdout if done.stdout.isdigit() else "000"


def _answers(socket: Path, url: str) -> bool:
    return socket_status(socket, url) != "000"


def _ssh(layout: Layout, host: AppHost, *argv: str, check: bool = True) -> None:
    layout.shell.run(host.ssh(*argv), check=check)


def _stop_host(layout: Layout, image: Layout, host: AppHost) -> None:
    if not host.sshd.is_running():
        return
    say(f"stopping app host {host.name} ...")
    _stop_supervisord(layout, image, host)
    host.sshd.stop()


def _stop_supervisord(layout: Layout, image: Layout, host: AppHost) -> None:
    _ssh(
        layout, host, image.supervisorctl, "-c", str(image.supervisor_conf), "shutdown", check=False
    )
    pidfile = real_path(image, host, _pidfile(image))
    wait_for(lambda: not pidfile.exists(), f"{host.name}'s supervisord exiting", 60)


def _write_inventory(fleet: list[AppHost]) -> None:
    """The fleet as a team's Ansible inventory describes its servers (group `app`)."""
    first = fleet[0]
    lines = ["# Written by `rollbook sandbox up --app-hosts`.", "[app]"]
    lines += [
        f"{h.name} ansible_host=127.0.0.1 ansible_port={h.port} ansible_user={h.user}"
        for h in fleet
    ]
    lines += [
        "",
        "[app:vars]",
        f"ansible_ssh_private_key_file={first.key}",
        f"ansible_ssh_common_args='-F {first.client_config}'",
        "",
    ]
    (first.root / "inventory.ini").write_text("\n".join(lines), encoding="utf-8")


def _reload_nginx(layout: Layout) -> None:
    if supervisor.is_running(layout):
        layout.shell.run(
            [
                supervisor.supervisorctl(layout),
                "-c",
                layout.supervisor_conf,
                "signal",
                "HUP",
                "nginx",
            ]
        )
