"""Etapa 6 — validation after the rollback: health, smoke tests, critical functions, logs."""

from __future__ import annotations

import time

from rollbook.actions import database, logs, web, workers
from rollbook.actions.fleet import each_host
from rollbook.checks import smoke
from rollbook.core.errors import NotConfigured, StepFailed
from rollbook.core.host import Host
from rollbook.core.run import Run
from rollbook.core.waiting import wait_until


def health_check(run: Run) -> int:
    """Paso 6.1 / §8.1: the health URL answers 200.

    Right after a restart (Paso 6.1) the app may still warm up: bounded wait. A checklist run
    probes the running system as it is: one request.
    """
    health = run.env.health
    url = health.url
    wait = 0.0 if run.checklist else run.env.services.start_timeout

    def healthy(host: Host) -> int:
        status = wait_until(lambda: web.health_status(host, health)[0] == 200, wait)
        code = 200 if status else web.health_status(host, health)[0]
        if code != 200:
            body = web.http_body(host, health, url, web.health_via(health))[:300]
            raise StepFailed(
                f"{host.spec}: {url} answered {code or 'nothing'} (expected 200): {body}"
            )
        return code

    run.record("health", url=url, status=200, hosts=each_host(run, "app", healthy))
    return 200


def smoke_tests(run: Run) -> dict[str, object]:
    """Paso 6.2: the app's smoke tests (checks/smoke.py), and every endpoint answers 200."""
    host, health = run.first_host("app"), run.env.health
    result: dict[str, object] = {}
    if not (health.smoke_tests or health.smoke_command or health.endpoints):
        raise NotConfigured("health.smoke_tests, health.smoke_command and health.endpoints")
    if health.smoke_tests or health.smoke_command:
        result["smoke_tests"] = smoke.run_smoke(run, host)
    else:
        run.not_configured("health.smoke_tests (or health.smoke_command): endpoints only")
    endpoints = {url: web.http_status(host, health, url)[0] for url in health.endpoints}
    result["endpoints"] = endpoints
    run.record("smoke", **result)
    bad = [f"{url} → {code}" for url, code in endpoints.items() if code != 200]
    if bad:
        raise StepFailed("endpoints not answering 200: " + ", ".join(bad))
    return result


def critical_functions(run: Run) -> dict[str, object]:
    """Paso 6.3: login, API, admin (the YAML's URLs), database queries, the workers (each by
    its method)."""
    host, health = run.first_host("app"), run.env.health
    if not health.critical:
        run.not_configured("health.critical: the database and the workers only")
    checks: dict[str, object] = {
        name: web.http_status(host, health, url)[0] for name, url in health.critical.items()
    }
    checks["database"] = database.psql(run.postgres(), "SELECT 1").strip() == "1"
    if run.env.services.workers:
        try:
            checks["workers"] = bool(workers.check_all(run, wait=False))
        except StepFailed as exc:  # the reason, in the record and in the error below
            checks["workers"] = str(exc)
    run.record("critical_functions", **checks)
    bad = [name for name, ok in checks.items() if ok not in (True, 200)]
    if bad:
        raise StepFailed(
            "critical functions not working: "
            + ", ".join(f"{name} ({checks[name]})" for name in bad)
        )
    return checks


def monitor_logs(run: Run) -> list[str]:
    """Paso 6.4: watch the logs for the environment's window; no error line may appear."""
    window = run.env.logs.watch
    if not run.env.logs.files:
        raise NotConfigured("logs.files")

    def watch(host: Host) -> list[str]:
        offsets = logs.log_offsets(host, run.env.logs)
        run.say(f"watching {len(offsets)} log files on {host.spec} for {window:.0f} s …")
        time.sleep(window)
        return logs.errors_since(host, run.env.logs, offsets)

    found = [line for lines in each_host(run, "app", watch).values() for line in lines]
    run.record("log_watch", seconds=window, errors=found)
    if found:
        raise StepFailed(f"{len(found)} error lines in the logs: {found[0]}")
    return found
