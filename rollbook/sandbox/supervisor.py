"""The sandbox's own supervisord (config, socket, pidfile under .sandbox) and its programs.

Programs start in the order of `programs()` and supervisord stops them in reverse, so redis starts
first and stops last: a celery worker whose broker vanished hangs on shutdown.
"""

from __future__ import annotations

import shlex
import sys
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from rollbook.core.errors import UserError
from rollbook.sandbox.app_user import run_as
from rollbook.sandbox.application import app_environment
from rollbook.sandbox.layout import PROFILES, Layout, load_profile_layout
from rollbook.sandbox.shell import SandboxError, ensure_port_free, require_binary, say, wait_for

SUPERVISOR_INSTALL = "pip install supervisor into the project's venv"


def supervisorctl(layout: Layout) -> str:
    return require_binary(layout.supervisorctl, SUPERVISOR_INSTALL)


def _ini(value: str | Path) -> str:
    """supervisord expands %(name)s in its config: keep a literal %."""
    return str(value).replace("%", "%%")


@dataclass(frozen=True)
class Program:
    name: str
    command: tuple[str | Path, ...]
    log: Path
    port: tuple[int, str] | None = None  # (port, its key in sandbox.yaml)
    app: bool = False  # runs the deployed app: in its folder, with its environment
    # off: defined, never started by the sandbox (a stack shaped otherwise starts it)
    autostart: bool = True
    profile: Layout | None = None  # runs a conformance profile's app, in its folder and env

    def section(self, layout: Layout, priority: int) -> str:
        lines = [
            f"[program:{self.name}]",
            f"command={_ini(shlex.join(str(part) for part in self.command))}",
            f"priority={priority}",
            f"autostart={'true' if self.autostart else 'false'}",
            "autorestart=false",
            "startsecs=1",
            "stopwaitsecs=20",
            "redirect_stderr=true",
            f"stdout_logfile={_ini(self.log)}",
            "stdout_logfile_maxbytes=0",
        ]
        runs = layout if self.app else self.profile
        if runs is not None:
            environment = ",".join(f'{key}="{value}"' for key, value in runs.env.app.env.items())
            lines += [
                f"directory={_ini(runs.app)}",
                f"environment={_ini(environment)}",
                "stopasgroup=true",
                "killasgroup=true",
            ]
        return "\n".join(lines) + "\n"


def programs(layout: Layout) -> tuple[Program, ...]:
    """The sandbox's programs in start order."""
    bin_dir, ports = layout.venv / "bin", layout.ports
    redis = require_binary("redis-server", "apt-get install redis-server")
    nginx = require_binary("nginx", "apt-get install nginx-light")
    channel = (
        (
            Program(
                "notify",
                (
                    sys.executable,
                    "-m",
                    "rollbook.sandbox.receiver",
                    "--port",
                    str(ports.notify),
                    "--out",
                    layout.log / "notifications.jsonl",
                ),
                layout.log / "notify.log",
                (ports.notify, "sandbox.notify_port"),
            ),
        )
        if ports.notify
        else ()
    )
    return (
        *channel,
        Program(
            "redis",
            (
                redis,
                "--port",
                str(ports.redis),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                layout.run,
            ),
            layout.log / "redis.log",
            (ports.redis, "sandbox.redis_port"),
        ),
        Program(
            "nginx",
            (
                nginx,
                "-c",
                layout.nginx_conf,
                "-e",
                layout.log / "nginx" / "error.log",
                "-g",
                "daemon off;",
            ),
            layout.log / "nginx" / "nginx.log",
            (ports.nginx, "health.endpoints"),
        ),
        _gunicorn(layout, app=True),
        Program(
            "celery",
            (
                bin_dir / "celery",
                "-A",
                layout.env.celery.app,
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
            ),
            layout.celery_log,
            app=True,
        ),
        # the worker of an app without celery: a long-running management command
        Program(
            "worker",
            (bin_dir / "python", layout.env.app.manage, "run_worker"),
            layout.log / "worker.log",
            app=True,
            autostart=False,
        ),
        *profile_programs(),
    )


def _gunicorn(layout: Layout, **options: Any) -> Program:
    """gunicorn serving an app's Django project (the package of its settings module, by Django's
    convention: config.settings.staging → config.wsgi) on its health URL's port."""
    project = layout.env.app.env.get("DJANGO_SETTINGS_MODULE", "config.settings").split(".")[0]
    return Program(
        layout.env.services.app[0],
        (
            *run_as(layout),
            layout.venv / "bin" / "gunicorn",
            f"{project}.wsgi:application",
            "-b",
            f"127.0.0.1:{layout.ports.gunicorn}",
            "--workers",
            "2",
        ),
        layout.gunicorn_log,
        (layout.ports.gunicorn, "health.url"),
        **options,
    )


def profile_programs() -> tuple[Program, ...]:
    """The conformance profiles' programs — gunicorn, then each worker's management command,
    its log the profile's next `logs.files` — defined, started by `up --profile NAME` only."""
    found = []
    for name, workers in PROFILES.items():
        try:
            profile = load_profile_layout(name)
        except UserError:  # its environment file is not in this environments folder
            continue
        found.append(_gunicorn(profile, autostart=False, profile=profile))
        python, logs = profile.venv / "bin" / "python", profile.env.logs.files
        for number, (program, command) in enumerate(workers.items(), start=1):
            argv = (*run_as(profile), python, profile.env.app.manage, *command)
            found.append(
                Program(program, argv, Path(logs[number]), autostart=False, profile=profile)
            )
    return tuple(found)


def app_programs(layout: Layout) -> list[str]:
    """The programs that run the deployed app (its services, started or not)."""
    return [program.name for program in programs(layout) if program.app]


def write_config(layout: Layout) -> None:
    socket = _ini(layout.supervisor_socket)
    header = (
        "; Written by `rollbook sandbox`: the sandbox's own supervisord, apart from any other.\n"
        f"[unix_http_server]\nfile={socket}\nchmod=0700\n\n"
        f"[supervisord]\nlogfile={_ini(layout.log / 'supervisord.log')}\n"
        f"pidfile={_ini(layout.supervisor_pidfile)}\n"
        f"childlogdir={_ini(layout.log)}\nidentifier=rollbook-sandbox\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{socket}\n\n"
    )
    sections = []
    for number, program in enumerate(programs(layout), start=1):
        sections.append(program.section(layout, priority=10 * number))
        program.log.parent.mkdir(parents=True, exist_ok=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    layout.supervisor_conf.parent.mkdir(parents=True, exist_ok=True)
    layout.supervisor_conf.write_text(header + "\n".join(sections), encoding="utf-8")


def _rpc(layout: Layout) -> Any:
    """supervisord's XML-RPC interface over its unix socket, as supervisorctl talks to it."""
    transport = SupervisorTransport(None, None, f"unix://{layout.supervisor_socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def supervisord_pid(layout: Layout) -> int | None:
    """The pid of the sandbox's supervisord when it answers, else None."""
    if not layout.supervisor_socket.exists():
        return None
    try:
        return int(_rpc(layout).getPID())
    except (OSError, xmlrpc.client.Error):
        return None


def is_running(layout: Layout) -> bool:
    return supervisord_pid(layout) is not None


def program_states(layout: Layout) -> dict[str, str]:
    """{program: 'RUNNING pid 123, uptime 0:01:02'}, as supervisorctl status shows them."""
    return {
        info["name"]: f"{info['statename']} {info['description']}"
        for info in _rpc(layout).getAllProcessInfo()
    }


def _in_state(states: dict[str, str], name: str, *wanted: str) -> bool:
    return states.get(name, "").split(" ", 1)[0] in wanted


def _all_running(layout: Layout, names: list[str]) -> bool:
    """True once every named program is RUNNING; SandboxError when one gave up."""
    states = program_states(layout)
    for program in programs(layout):
        if program.name in names and _in_state(states, program.name, "FATAL", "EXITED"):
            raise SandboxError(
                f"{program.name} did not start ({states[program.name]}): see {program.log}"
            )
    return all(_in_state(states, name, "RUNNING") for name in names)


def check_ports(layout: Layout) -> list[Program]:
    """The programs the sandbox starts itself that are neither running nor starting; UserError
    when another process holds the port of one of them. A profile's program (started by `up
    --profile` only) is not checked: its port is nobody's business until it starts."""
    states = program_states(layout) if is_running(layout) else {}
    stopped = [
        p
        for p in programs(layout)
        if p.autostart and not _in_state(states, p.name, "RUNNING", "STARTING")
    ]
    for program in stopped:
        if program.port is not None:
            port, key = program.port
            ensure_port_free(port, program.name, key)
    return stopped


def start(layout: Layout, leave: Sequence[str] = ()) -> None:
    """Start supervisord (it starts every program) or the programs that are not running, but
    those of `leave` (the app's, where the fleet's hosts run it)."""
    supervisord_running = is_running(layout)
    if supervisord_running:  # a config written since supervisord started may add programs
        added, _changed, _removed = _rpc(layout).reloadConfig()[0]
        for name in added:
            _rpc(layout).addProcessGroup(name)
    names = [program.name for program in check_ports(layout) if program.name not in leave]
    if supervisord_running and names:
        say(f"starting {', '.join(names)} ...")
        for name in names:  # all at once: each waits `startsecs` before it counts as running
            _rpc(layout).startProcess(name, False)
    elif not supervisord_running:
        say(f"starting supervisord ({', '.join(names)}) ...")
        supervisord = Path(supervisorctl(layout)).with_name("supervisord")
        layout.shell.run([supervisord, "-c", layout.supervisor_conf], env=app_environment(layout))
        wait_for(lambda: is_running(layout), "supervisord answering", 30)
    all_names = [p.name for p in programs(layout) if p.autostart and p.name not in leave]
    wait_for(lambda: _all_running(layout, all_names), "every program running", 60)


def start_programs(layout: Layout, names: list[str]) -> None:
    """Start those of `names` (programs the sandbox does not start itself) that are not running."""
    states = program_states(layout)
    for name in names:
        if not _in_state(states, name, "RUNNING", "STARTING"):
            say(f"starting {name} ...")
            _rpc(layout).startProcess(name, False)
    wait_for(lambda: _all_running(layout, names), f"{', '.join(names)} running", 60)


def stop_running(layout: Layout, names: list[str]) -> None:
    """Stop those of `names` that are running, all at once, and wait until they are down."""
    states = program_states(layout) if is_running(layout) else {}
    running = [n for n in names if _in_state(states, n, "RUNNING", "STARTING", "BACKOFF")]
    if not running:
        return
    say(f"stopping {', '.join(running)} ...")
    for name in running:
        _rpc(layout).stopProcess(name, False)
    wait_for(
        lambda: not any(_in_state(program_states(layout), n, "STOPPING") for n in running),
        f"{', '.join(running)} stopped",
        60,
    )


def shutdown(layout: Layout) -> None:
    """supervisorctl shutdown: supervisord stops its programs (redis last) and exits."""
    if is_running(layout):
        say("stopping supervisord and its programs ...")
        layout.shell.run([supervisorctl(layout), "-c", layout.supervisor_conf, "shutdown"])
        # supervisorctl returns once the request is taken; supervisord removes its pidfile last.
        wait_for(
            lambda: not layout.supervisor_pidfile.exists(),
            "supervisord exiting",
            60,
            f": see {layout.log / 'supervisord.log'}",
        )
