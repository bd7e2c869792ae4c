"""Etapa 6 — validation after the rollback: health, smoke tests, critical functions, logs."""

from __future__ import annotations

import time

from rollbook.actions import database, logs, web
from rollbook.actions.app_services import workers_answer
from rollbook.actions.fleet import each_host
from rollbook.core.errors import StepFailed
from rollbook.core.run import Run
from rollbook.core.waiting import wait_until


def health_check(run: Run) -> int:
    """Paso 6.1 / §8.1: the health URL answers 200.

    Right after a restart (Paso 6.1) the app may still warm up: bounded wait. A checklist run
    probes the running system as it is: one request.
    """
    url = run.env.health.url
    wait = 0.0 if run.checklist else run.env.services.start_timeout

    def healthy(spec: str) -> int:
        status = wait_until(lambda: web.health_status(run, spec)[0] == 200, wait)
        code = 200 if status else web.health_status(run, spec)[0]
        if code != 200:
            body = web.http_body(run, spec, url, web.health_via(run))[:300]
            raise StepFailed(f"{spec}: {url} answered {code or 'nothing'} (expected 200): {body}")
        return code

    run.record("health", url=url, status=200, hosts=each_host(run, "app", healthy))
    return 200


def smoke_tests(run: Run) -> dict[str, object]:
    """Paso 6.2: the app's smoke tests with the app's venv, and every endpoint answers 200."""
    spec = run.hosts("app")[0]
    result: dict[str, object] = {}
    if run.env.health.smoke_tests:
        argv = [f"{run.env.app.venv}/bin/python", "-m", "pytest", run.env.health.smoke_tests,
                "-q", "-p", "no:cacheprovider"]  # fmt: skip
        env = {**run.env.app.env, **run.env.health.smoke_env, "PYTHONDONTWRITEBYTECODE": "1"}
        out = run.executor.run(
            spec, argv, mutating=False, check=False, cwd=run.env.app.path, env=env, timeout=600
        )
        summary = (out.stdout.strip().splitlines() or [""])[-1]
        result["smoke_tests"] = {"exit": out.exit_status, "summary": summary}
        if not out.ok:
            raise StepFailed(f"smoke tests {run.env.health.smoke_tests} failed: {summary}")
    endpoints = {url: web.http_status(run, spec, url)[0] for url in run.env.health.endpoints}
    result["endpoints"] = endpoints
    run.record("smoke", **result)
    bad = [f"{url} → {code}" for url, code in endpoints.items() if code != 200]
    if bad:
        raise StepFailed("endpoints not answering 200: " + ", ".join(bad))
    return result


def critical_functions(run: Run) -> dict[str, object]:
    """Paso 6.3: login, API, admin (the YAML's URLs), database queries, celery workers."""
    spec = run.hosts("app")[0]
    checks: dict[str, object] = {
        name: web.http_status(run, spec, url)[0] for name, url in run.env.health.critical.items()
    }
    checks["database"] = database.psql(run, "SELECT 1").strip() == "1"
    checks["celery"] = bool(workers_answer(run))
    run.record("critical_functions", **checks)
    bad = [name for name, ok in checks.items() if ok not in (True, 200)]
    if bad:
        raise StepFailed("critical functions not working: " + ", ".join(bad))
    return checks


def monitor_logs(run: Run) -> list[str]:
    """Paso 6.4: watch the logs for the environment's window; no error line may appear."""
    window = run.env.logs.watch

    def watch(spec: str) -> list[str]:
        offsets = logs.log_offsets(run, spec)
        run.say(f"watching {len(offsets)} log files on {spec} for {window:.0f} s …")
        time.sleep(window)
        return logs.errors_since(run, spec, offsets)

    found = [line for lines in each_host(run, "app", watch).values() for line in lines]
    run.record("log_watch", seconds=window, errors=found)
    if found:
        raise StepFailed(f"{len(found)} error lines in the logs: {found[0]}")
    return found
