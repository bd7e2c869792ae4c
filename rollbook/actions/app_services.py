"""Etapas 2 and 5 — the app's services on every app host: connect, stop, start, verify."""

from __future__ import annotations

from collections.abc import Callable

from rollbook.actions import logs, web
from rollbook.actions.fleet import each_host, label
from rollbook.core.errors import StepFailed
from rollbook.core.run import Run
from rollbook.core.waiting import wait_until
from rollbook.services import manager_for
from rollbook.services.base import ServiceManager

CELERY_NO_BROKER = "Could not connect to the message broker"  # celery's own words


def connect_servers(run: Run) -> list[str]:
    """Paso 2.1: every host of every role answers, and the app path exists on the app hosts."""

    def connect(spec: str, role: str) -> str:
        name = run.executor.run(spec, ["hostname"], mutating=False).stdout.strip()
        if role == "app":
            run.executor.run(spec, ["test", "-d", run.env.app.path], mutating=False)
        return name

    reached = []
    for role in ("app", "db"):
        answered = each_host(run, role, lambda spec, role=role: connect(spec, role))
        reached += [f"{role}:{spec}" for spec in answered]
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

    def stop(spec: str) -> None:
        manager = manager_for(run, spec)
        running = {f"{spec} {name}": manager.is_running(name) for name in names}
        run.record_host("services_before", running, field="running")  # before the stop, for §9
        manager.stop(names)

    each_host(run, "app", stop)
    run.record("services_stopped", names=names)
    return dict(run.fact("services_before")["running"])


def wait_processes_gone(run: Run) -> list[str]:
    timeout = run.env.services.stop_timeout

    def gone(spec: str) -> list[str]:
        wait_until(lambda: not app_processes(run, spec), timeout)
        return app_processes(run, spec)

    return [line for left in each_host(run, "app", gone).values() for line in left]


def start_services(
    run: Run, names: list[str], gate: Callable[[str], object] | None = None
) -> dict[str, list[str]]:
    """Paso 5.1 / 5.2: start, wait until running (bounded), and read their logs since the start.

    With a `gate` and `services.restart: rolling`, one host at a time: the next host starts
    only after gate(spec) passed on this one (its health URL answers 200).
    """
    rolling = gate is not None and run.env.services.restart == "rolling"

    def start(spec: str) -> list[str]:
        manager = manager_for(run, spec)
        offsets = logs.log_offsets(run, spec)
        manager.start(names)
        timeout = run.env.services.start_timeout
        for name in names:
            state = wait_until(lambda n=name: _started(manager, n), timeout)
            if state != "running":
                why = (
                    "the service manager gave up on it (it exited while starting)"
                    if state == "gave up"
                    else f"still not running after {timeout:.0f} s"
                )
                raise StepFailed(f"{spec}: service {name} did not start: {why}; see its log")
        if gate is not None:
            gate(spec)
        return logs.errors_since(run, spec, offsets)

    errors = each_host(run, "app", start, one_at_a_time=rolling)
    run.record("services_started", names=names, log_errors=errors, rolling=rolling)
    return errors


def _started(manager: ServiceManager, name: str) -> str | None:
    """ "running", "gave up" (the manager will not retry it), or None while it is starting."""
    if manager.is_running(name):
        return "running"
    return "gave up" if manager.gave_up(name) else None


def web_services(run: Run) -> list[str]:
    return [n for n in run.env.services.app if n not in run.env.services.workers]


def start_web(run: Run) -> dict[str, list[str]]:
    """Paso 5.1: start the web services on every app host and record what each host's health URL
    answers (any HTTP status); rolling: a host must answer 200 before the next one starts."""
    statuses: dict[str, int] = {}

    def answers(spec: str) -> None:
        statuses[spec] = wait_web_answers(run, spec)
        if run.env.services.restart == "rolling" and statuses[spec] != 200 and not run.planning:
            raise StepFailed(
                f"{spec}: health gate of the rolling restart: {run.env.health.url} answered "
                f"{statuses[spec] or 'nothing'}, not 200 — the other hosts were not started"
            )

    errors = start_services(run, web_services(run), gate=answers)
    worst = min(statuses.values(), key=lambda code: (code == 200, code), default=0)
    run.record("web_answer", status=worst, hosts=statuses)
    return errors


def wait_web_answers(run: Run, spec: str) -> int:
    """After gunicorn starts: the host's health URL answers at all (any HTTP status), bounded.

    Gives up early when a web service stops running (it could not bind, it crashed at import).
    """
    manager = manager_for(run, spec)

    def answered_or_dead() -> int | None:
        code = web.health_status(run, spec)[0]
        if code:
            return code
        return None if all(manager.is_running(n) for n in web_services(run)) else -1

    result = wait_until(answered_or_dead, run.env.services.start_timeout, interval=1)
    return result if result and result > 0 else 0


def workers_answer(run: Run) -> dict[str, str]:
    """Paso 5.2: on every app host, its own worker answers `celery inspect active` (bounded
    polling); {host: answer}. A reply from another host's worker does not count."""
    return each_host(run, "app", lambda spec: worker_answers(run, spec, wait=True))


def worker_node(run: Run, spec: str) -> str:
    """The worker's celery node name on this host (celery.node, %h = the host's hostname)."""
    if "%h" not in run.env.celery.node:
        return run.env.celery.node
    name = run.executor.run(spec, ["hostname"], mutating=False).stdout.strip()
    return run.env.celery.node.replace("%h", name)


def worker_answers(run: Run, spec: str, *, wait: bool) -> str:
    """This host's worker answers `celery -A APP inspect active -d NODE`, within the start
    timeout (`wait`) or at once; the error names the host, the node and what the service
    manager shows."""
    node = worker_node(run, spec)
    argv = [f"{run.env.app.venv}/bin/celery", "-A", run.env.celery.app, "inspect", "active",
            "-d", node]  # fmt: skip

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
        return result.stdout if result.ok and f"{node}: OK" in result.stdout else ""

    # each inspect already waits celery's 1 s for replies: polled with a short pause
    answer = (
        wait_until(inspect, run.env.services.start_timeout, interval=0.2) if wait else inspect()
    )
    if not answer:
        manager = manager_for(run, spec)
        states = ", ".join(
            f"{n} {'running' if manager.is_running(n) else 'NOT running'}"
            for n in run.env.services.workers
        )
        raise StepFailed(
            f"{label(spec)}: worker {node} did not answer `celery -A {run.env.celery.app} "
            f"inspect active -d {node}`"
            + (f" within {run.env.services.start_timeout:.0f} s" if wait else "")
            + f" (service manager: {states or 'no workers configured'})"
        )
    return answer
