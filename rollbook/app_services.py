"""Etapas 2 and 5 — the app's services on every app host: connect, stop, start, verify."""

from __future__ import annotations

from rollbook import logs, web
from rollbook.errors import StepFailed
from rollbook.run import Run
from rollbook.services import manager_for
from rollbook.services.base import ServiceManager
from rollbook.waiting import wait_until

CELERY_NO_BROKER = "Could not connect to the message broker"  # celery's own words


def connect_servers(run: Run) -> list[str]:
    """Paso 2.1: every host of every role answers, and the app path exists on the app hosts."""
    reached = []
    for role in ("app", "db"):
        for spec in run.hosts(role):
            run.executor.run(spec, ["hostname"], mutating=False)
            if role == "app":
                run.executor.run(spec, ["test", "-d", run.env.app.path], mutating=False)
            reached.append(f"{role}:{spec}")
    run.record("connected", hosts=reached)
    return reached


def app_processes(run: Run, spec: str) -> list[str]:
    """Processes of the app's services still alive (ps, as the procedure; never a broad kill)."""
    out = run.executor.run(spec, ["ps", "-ww", "-eo", "pid=,args="], mutating=False).stdout
    names = run.env.services.app
    return [
        line.strip()
        for line in out.splitlines()
        if run.env.app.path in line and any(name in line for name in names)
    ]


def stop_services(run: Run) -> dict[str, bool]:
    """Paso 2.2: stop the app services; record which were running, for §9."""
    names = run.env.services.app
    before: dict[str, bool] = {}
    for spec in run.hosts("app"):
        manager = manager_for(run, spec)
        before |= {f"{spec} {name}": manager.is_running(name) for name in names}
        run.record("services_before", running=before)
        manager.stop(names)
    run.record("services_stopped", names=names)
    return before


def wait_processes_gone(run: Run) -> list[str]:
    timeout = run.env.services.stop_timeout
    left: list[str] = []
    for spec in run.hosts("app"):
        wait_until(lambda spec=spec: not app_processes(run, spec), timeout)
        left += app_processes(run, spec)
    return left


def start_services(run: Run, names: list[str]) -> dict[str, list[str]]:
    """Paso 5.1 / 5.2: start, wait until running (bounded), and read their logs since the start."""
    errors: dict[str, list[str]] = {}
    for spec in run.hosts("app"):
        manager = manager_for(run, spec)
        offsets = logs.log_offsets(run, spec)
        manager.start(names)
        timeout = run.env.services.start_timeout
        for name in names:
            state = wait_until(lambda m=manager, n=name: _started(m, n), timeout)
            if state != "running":
                why = (
                    "the service manager gave up on it (it exited while starting)"
                    if state == "gave up"
                    else f"still not running after {timeout:.0f} s"
                )
                raise StepFailed(f"{spec}: service {name} did not start: {why}; see its log")
        errors[spec] = logs.errors_since(run, spec, offsets)
    run.record("services_started", names=names, log_errors=errors)
    return errors


def _started(manager: ServiceManager, name: str) -> str | None:
    """ "running", "gave up" (the manager will not retry it), or None while it is starting."""
    if manager.is_running(name):
        return "running"
    return "gave up" if manager.gave_up(name) else None


def web_services(run: Run) -> list[str]:
    return [n for n in run.env.services.app if n not in run.env.services.workers]


def start_web(run: Run) -> dict[str, list[str]]:
    """Paso 5.1: start the web services and record whether the health URL answers at all."""
    errors = start_services(run, web_services(run))
    run.record("web_answer", status=wait_web_answers(run))
    return errors


def wait_web_answers(run: Run) -> int:
    """After gunicorn starts: the health URL answers at all (any HTTP status), bounded.

    Gives up early when a web service stops running (it could not bind, it crashed at import).
    """
    spec = run.hosts("app")[0]
    manager = manager_for(run, spec)

    def answered_or_dead() -> int | None:
        code = web.http_status(run, spec, run.env.health.url)[0]
        if code:
            return code
        return None if all(manager.is_running(n) for n in web_services(run)) else -1

    result = wait_until(answered_or_dead, run.env.services.start_timeout, interval=1)
    return result if result and result > 0 else 0


def workers_answer(run: Run) -> str:
    """Paso 5.2: `celery -A APP inspect active` sees the workers (bounded polling)."""
    spec = run.hosts("app")[0]
    argv = [f"{run.env.app.venv}/bin/celery", "-A", run.env.celery.app, "inspect", "active"]

    def inspect() -> str:
        result = run.executor.run(
            spec, argv, mutating=False, check=False, cwd=run.env.app.path, env=run.env.app.env,
            timeout=30,
        )  # fmt: skip
        if CELERY_NO_BROKER in result.stdout + result.stderr:  # waiting would not help
            raise StepFailed(
                f"{run.executor.describe_failure(result)} — the workers have no broker: start "
                "it (redis / rabbitmq, as the app's settings name it), then run again"
            )
        return result.stdout if result.ok and "OK" in result.stdout else ""

    # each inspect already waits celery's 1 s for replies: polled with a short pause
    answer = wait_until(inspect, run.env.services.start_timeout, interval=0.2)
    if not answer:
        raise StepFailed(f"{spec}: `celery -A {run.env.celery.app} inspect active` saw no worker")
    return answer
