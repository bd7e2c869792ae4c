"""Etapas 2 and 5 — the app's services on every app host: connect, stop, start, verify."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict

from rollbook.actions import logs, serving, web, workers
from rollbook.actions.fleet import each_host
from rollbook.actions.serving import process_table
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.operations import ServicesStopped
from rollbook.core.records import Records
from rollbook.core.site import Site
from rollbook.core.state import (
    AnswersBefore,
    LogsAtStart,
    ServiceLogsBefore,
    ServiceProcesses,
    WebAnswer,
)
from rollbook.core.waiting import wait_until
from rollbook.services import manager_for
from rollbook.services.base import ServiceManager

_EXCEPTION = re.compile(r"(?:[a-z_]\w*\.)*[A-Z]\w*: ")  # a Python exception's last line


def connect_servers(incident: Incident, site: Site, records: Records) -> dict[str, str]:
    """Paso 2.1: every host of every role answers, and the app path exists on the app hosts
    (where app.user is set: that user writes the app's folder and venv, so Etapa 3 can);
    {role:spec: the hostname it answered}."""

    def connect(host: Host, role: str) -> str:
        name = host.run(["hostname"], mutating=False).stdout.strip()
        if role == "app":
            host.run(["test", "-d", site.env.app.path], mutating=False)
            if site.env.app.user:
                app_user_writes(host, site.env)
        return name

    reached: dict[str, str] = {}
    for role in ("app", "db"):
        answered = each_host(incident, site, role, lambda host, role=role: connect(host, role))
        reached |= {f"{role}:{spec}": name for spec, name in answered.items()}
    incident.note("connected", hosts=list(reached))
    # before the first change: what §9 must give back, URL by URL
    records.keep(AnswersBefore({k: asdict(a) for k, a in web.answers(site).items()}))
    return reached


def app_user_writes(host: Host, env: Environment) -> None:
    """app.user runs commands on this host and may write the app's folder and venv."""
    app = env.app
    done = host.run(
        ["test", "-w", app.path, "-a", "-w", app.venv], mutating=False, check=False, app=True
    )
    if not done.ok:
        said = (done.stderr.strip().splitlines() or [f"cannot write {app.path} or {app.venv}"])[0]
        raise StepFailed(
            f"{host.name}: app.user {app.user} cannot run the app's commands here ({said}) — "
            f"create the user and give it {app.path} and {app.venv} (chown -R), or, when "
            f"rollbook does not log in as root, a sudoers rule letting the login run commands "
            f"as {app.user} without a password"
        )


def app_processes(host: Host, env: Environment, pids: set[int] | None = None) -> list[str]:
    """Processes of the app's services still alive: those the service manager ran (`pids`,
    children included, recorded before the stop) and those the procedure's match finds (ps:
    `of_the_app`); never a broad kill."""
    known, folders = pids or set(), working_folders(host)
    return [
        f"{pid} {args}"
        for pid, _, args in process_table(host)
        if pid in known or of_the_app(args, folders.get(pid, ""), env.app.path, env.services.app)
    ]


def working_folders(host: Host) -> dict[int, str]:
    """pid → working folder of the processes this user may see (others: absent), from /proc in
    one `find`."""
    argv = [
        "find",
        "/proc",
        "-mindepth",
        "2",
        "-maxdepth",
        "2",
        "-name",
        "cwd",
        "-printf",
        "%h\\t%l\\n",
    ]
    out = host.run(argv, mutating=False, check=False).stdout
    rows = (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    found = {folder.removeprefix("/proc/"): cwd for folder, cwd in rows}
    return {int(pid): cwd for pid, cwd in found.items() if pid.isdigit() and cwd}


def of_the_app(args: str, cwd: str, path: str, names: list[str]) -> bool:
    """The procedure's match (`ps aux | grep -E 'gunicorn|celery'`), kept to this app: a
    service's name in the command line of a process that names the app's path or runs inside it
    (`cd /srv/app && gunicorn config.wsgi`) — a name the path itself holds (`wagtail` in
    /srv/wagtail/site) says nothing."""
    root = path.rstrip("/")
    inside = cwd == root or cwd.startswith(f"{root}/")
    return (root in args or inside) and any(name in args.replace(root, "") for name in names)


def stop_services(incident: Incident, site: Site, records: Records) -> list[str]:
    """Paso 2.2: stop the app services; record which were running (for §9) and their process
    trees as the service manager knows them (so what outlives the stop is found by pid even when
    the program's name is not in its command line). The services that ran, as "<host> <name>"."""
    names = site.env.services.app

    def stop(host: Host) -> list[str]:
        manager = manager_for(host, site.env.services)
        running = manager.running(names)
        tree = sorted(serving.manager_tree(host, manager, names))
        records.keep_host(ServiceProcesses, host.spec, tree)
        with records.operation(ServicesStopped(host.spec, running)):  # §9 restarts them
            manager.stop(names)
        return running

    stopped = each_host(incident, site, "app", stop)
    incident.note("services_stopped", names=names)
    return [f"{spec} {name}" for spec, running in stopped.items() for name in running]


def wait_processes_gone(incident: Incident, site: Site, records: Records) -> list[str]:
    timeout = site.env.services.stop_timeout
    known = records.known(ServiceProcesses)
    recorded = known.hosts if known else {}

    def gone(host: Host) -> list[str]:
        pids = set(recorded.get(host.spec, []))
        wait_until(lambda: not app_processes(host, site.env, pids), timeout)
        return app_processes(host, site.env, pids)

    return [line for left in each_host(incident, site, "app", gone).values() for line in left]


def start_services(
    incident: Incident,
    site: Site,
    records: Records,
    names: list[str],
    gate: Callable[[Host], object] | None = None,
) -> dict[str, list[str]]:
    """Paso 5.1 / 5.2: start, wait until running (bounded), and read their logs since the start.

    With a `gate` and `services.restart: rolling`, one host at a time: the next host starts
    only after gate(host) passed on this one (its health URL answers 200).
    """
    rolling = gate is not None and site.env.services.restart == "rolling"

    def start(host: Host) -> list[str]:
        manager = manager_for(host, site.env.services)
        offsets = logs.log_offsets(host, site.env.logs)
        first = records.known(LogsAtStart)
        if first is None or host.spec not in first.hosts:  # Paso 6.4's window starts here
            records.keep_host(LogsAtStart, host.spec, {"at": time.time(), "offsets": offsets})
        marks = workers.log_marks(manager, names)  # what their logs say since is since the start
        records.keep_host(ServiceLogsBefore, host.spec, marks)
        since = serving.host_uptime(host)
        # started by something else meanwhile: restarted, never assumed fresh (a dry-run plans
        # the start the procedure makes: the services it did not stop still run)
        running = [] if host.planning else manager.running(names)
        if running:
            incident.say(f"{host.name}: {', '.join(running)} already running: restarted")
        try:
            if len(running) < len(names):
                manager.start([n for n in names if n not in running])
            if running:
                manager.restart(running)
        except StepFailed as exc:  # the manager says it could not (e.g. supervisor's spawn error)
            up = manager.running(names)
            said = [
                f"{n}: {ends_with(since_start(records, host, manager, n))}"
                for n in names
                if n not in up
            ]
            raise StepFailed(" — ".join([str(exc), *said])) from None
        timeout = site.env.services.start_timeout
        for name in names:
            state = wait_until(lambda n=name: _started(manager, n), timeout)
            if state != "running":
                why = (
                    "the service manager gave up on it (it exited while starting)"
                    if state == "gave up"
                    else f"still not running after {timeout:.0f} s"
                )
                raise StepFailed(
                    f"{host.spec}: service {name} did not start: {why}. "
                    + ends_with(since_start(records, host, manager, name))
                )
        for name in names if not host.planning else []:  # observed: never assumed fresh
            seen = serving.observe(host, site.env, manager, name)
            if not seen.started:  # it stopped right after it started: Paso 5.1 says why
                continue
            fresh, said = serving.fresh_since(seen, since)
            if not fresh:
                raise StepFailed(f"{host.spec}: service {name} is not the one just started: {said}")
        if gate is not None:
            gate(host)
        return logs.errors_since(host, site.env.logs, offsets)

    errors = each_host(incident, site, "app", start, one_at_a_time=rolling)
    incident.note("services_started", names=names, log_errors=errors, rolling=rolling)
    return errors


def since_start(records: Records, host: Host, manager: ServiceManager, name: str) -> list[str]:
    """A service's own log since its last start (the lines after those recorded before it)."""
    logs_before = records.known(ServiceLogsBefore)
    marks = logs_before.hosts.get(host.spec, {}) if logs_before else {}
    return workers.lines_since(marks.get(name, []), manager.last_lines(name, 200))


def ends_with(lines: list[str]) -> str:
    """A log's end for an error message: its first exception line (the cause; a server's own
    exceptions and shutdown lines follow it) and its last lines."""
    if not lines:
        return "Its log is empty: run the service's command by hand on the host to see why"
    cause = [line.strip() for line in lines if _EXCEPTION.match(line.strip())][:1]
    last = [line.strip() for line in lines[-3:] if line.strip() not in cause]
    return "Its log ends: " + " | ".join(cause + last)


def _started(manager: ServiceManager, name: str) -> str | None:
    """ "running", "gave up" (the manager will not retry it), or None while it is starting."""
    if manager.is_running(name):
        return "running"
    return "gave up" if manager.gave_up(name) else None


def web_services(env: Environment) -> list[str]:
    return [n for n in env.services.app if n not in env.services.workers]


def start_web(incident: Incident, site: Site, records: Records) -> dict[str, list[str]]:
    """Paso 5.1: start the web services on every app host and record what each host's health URL
    answers (any HTTP status); rolling: a host must answer 200 before the next one starts."""
    statuses: dict[str, int] = {}

    def answers(host: Host) -> None:
        code = statuses[host.spec] = wait_web_answers(host, site.env)
        manager = manager_for(host, site.env.services)
        web = web_services(site.env)
        up = web if code else manager.running(web)
        dead = [n for n in web if n not in up]
        if dead and not site.planning:  # it started, then stopped: its own log says why
            raise StepFailed(
                f"{host.spec}: service {dead[0]} stopped right after it started. "
                + ends_with(since_start(records, host, manager, dead[0]))
            )
        if site.env.services.restart == "rolling" and code != 200 and not site.planning:
            raise StepFailed(
                f"{host.spec}: health gate of the rolling restart: {site.env.health.url} answered "
                f"{code or 'nothing'}, not 200 — the other hosts were not started"
            )

    errors = start_services(incident, site, records, web_services(site.env), gate=answers)
    worst = min(statuses.values(), key=lambda code: (code == 200, code), default=0)
    records.keep(WebAnswer(worst, statuses))
    return errors


READINESS_REQUEST = 2.0  # s: each question of the start's poll (a hung request is asked again)


def wait_web_answers(host: Host, env: Environment) -> int:
    """After gunicorn starts: the host's health URL answers at all (any HTTP status), bounded.

    Polled with short requests (READINESS_REQUEST, or health.timeout when shorter): one request
    that hangs while the app boots costs its short bound, not the whole health.timeout. Gives up
    early when a web service stops running (it could not bind, it crashed at import).
    """
    manager = manager_for(host, env.services)

    def answered_or_dead() -> int | None:
        code = web.health_status(host, env.health, READINESS_REQUEST)[0]
        if code:
            return code
        served = web_services(env)
        return None if len(manager.running(served)) == len(served) else -1

    result = wait_until(answered_or_dead, env.services.start_timeout, interval=0.25)
    return result if result and result > 0 else 0
