"""Etapa 6 — validation after the rollback: health, smoke tests, critical functions, logs."""

from __future__ import annotations

import time
from typing import cast

from rollbook.actions import database, logs, web, workers
from rollbook.actions.fleet import each_host
from rollbook.checks import smoke
from rollbook.core import progress
from rollbook.core.errors import NotConfigured, StepFailed
from rollbook.core.host import Host
from rollbook.core.run import Run
from rollbook.core.state import LogsAtStart, LogsAtValidationStart


def smoke_results(run: Run) -> dict[str, object]:
    """Paso 6.2: what the app's smoke tests (checks/smoke.py) said — {"failed": why} when they
    failed — and what every endpoint answers."""
    host, health = run.site.first_host("app"), run.site.env.health
    result: dict[str, object] = {}
    if not (health.smoke_tests or health.smoke_command or health.endpoints):
        raise NotConfigured("health.smoke_tests, health.smoke_command and health.endpoints")
    if health.smoke_tests or health.smoke_command:
        try:
            result["smoke_tests"] = smoke.run_smoke(run, host)
        except StepFailed as exc:
            result["smoke_tests"] = {"failed": str(exc)}
    else:
        run.incident.not_configured("health.smoke_tests (or health.smoke_command): endpoints only")
    result["endpoints"] = {url: web.http_status(host, health, url)[0] for url in health.endpoints}
    run.incident.note("smoke", **result)
    return result


def smoke_failures(result: dict[str, object]) -> list[str]:
    said = result.get("smoke_tests")
    failed = [str(said["failed"])] if isinstance(said, dict) and "failed" in said else []
    endpoints = cast(dict[str, int], result["endpoints"])
    bad = [f"{url} → {code}" for url, code in endpoints.items() if code != 200]
    return failed + (["endpoints not answering 200: " + ", ".join(bad)] if bad else [])


def smoke_tests(run: Run) -> dict[str, object]:
    """The smoke tests pass and every endpoint answers 200, or StepFailed saying why not."""
    result = smoke_results(run)
    failed = smoke_failures(result)
    if failed:
        raise StepFailed("; ".join(failed))
    return result


def critical_functions(run: Run) -> dict[str, object]:
    """Paso 6.3: what login, API, admin (the YAML's URLs), a database query and the workers (each
    by its method) answer: 200 / True, or what went wrong."""
    host, health = run.site.first_host("app"), run.site.env.health
    if not health.critical:
        run.incident.not_configured("health.critical: the database and the workers only")
    checks: dict[str, object] = {
        name: web.http_status(host, health, url)[0] for name, url in health.critical.items()
    }
    checks["database"] = database.psql(run.site.postgres(), "SELECT 1").strip() == "1"
    if run.site.env.services.workers:
        try:
            checks["workers"] = bool(
                workers.check_all(run.incident, run.site, run.records, wait=False)
            )
        except StepFailed as exc:  # the reason, in the record and in the error below
            checks["workers"] = str(exc)
    run.incident.note("critical_functions", **checks)
    return checks


def not_working(checks: dict[str, object]) -> list[str]:
    """The critical functions that did not answer 200 (or True), with what they said."""
    return [f"{name} ({said})" for name, said in checks.items() if said not in (True, 200)]


def open_log_window(run: Run) -> None:
    """A validation run (not the extended --watch): §8.2's log window opens at its first
    scenario, so the checks between run inside it and §8.2 waits only for what it still lacks."""
    if (
        not run.incident.checklist
        or run.incident.options.watch
        or not run.site.env.logs.files
        or run.records.known(LogsAtValidationStart) is not None
    ):
        return
    at = time.time()
    try:
        offsets = each_host(
            run.incident, run.site, "app", lambda host: logs.log_offsets(host, run.site.env.logs)
        )
    except StepFailed:  # a host unreachable: §8.2 reads its logs itself, and says so there
        return
    for spec, found in offsets.items():
        run.records.keep_host(LogsAtValidationStart, spec, {"at": at, "offsets": found})


def monitor_logs(run: Run) -> list[str]:
    """Paso 6.4 / §8.2: the error lines written to the app hosts' logs during the environment's
    window (`logs.watch`). In a rollback the window begins where Paso 5.1 read the logs before
    starting the services: whatever the restarted release wrote since counts, and Paso 6.4 waits
    only for what the window still lacks. A validation run's begins at its first scenario
    (open_log_window); the extended `--watch` watches from its own step."""
    watch = run.incident.options.watch  # §8.2's extended watch (validation.feature --watch)
    window = watch or run.site.env.logs.watch
    if not run.site.env.logs.files:
        raise NotConfigured("logs.files")

    services = None if watch else run.records.known(LogsAtStart)
    started = services or (None if watch else run.records.known(LogsAtValidationStart))
    hosts = run.site.hosts("app")
    from_start = started is not None and set(hosts) <= set(started.hosts)
    if started is not None and from_start:  # since this run started the services (or itself)
        offsets = {spec: started.hosts[spec]["offsets"] for spec in hosts}
        since = min(started.hosts[spec]["at"] for spec in hosts)
    else:
        offsets = each_host(
            run.incident, run.site, "app", lambda host: logs.log_offsets(host, run.site.env.logs)
        )
        since = time.time()
    files = sum(len(found) for found in offsets.values())
    left = max(0.0, window - (time.time() - since))
    where = f"{files} log files on {len(offsets)} app hosts"
    opened = "the services were started" if services else "the validation started"
    run.incident.say(
        f"watching {where} since {opened} {time.time() - since:.0f} s ago "
        f"(window {window:.0f} s: {left:.0f} s more) …"
        if from_start
        else f"watching {where} for {window:.0f} s …"
    )

    def errors(host: Host) -> list[str]:
        return logs.errors_since(host, run.site.env.logs, offsets[host.spec])

    def so_far() -> list[str]:
        return [
            line
            for lines in each_host(run.incident, run.site, "app", errors).values()
            for line in lines
        ]

    def detail() -> str:  # the extended watch says what it has seen at each step
        found = so_far()
        answers = web.health_answers(run.incident, run.site)
        codes = sorted({str(a.get("status")) for a in answers.values()})
        return f"{len(found)} líneas de error, health {'/'.join(codes)}"

    every = min(progress.EVERY, max(window / 10, 1.0)) if watch else progress.EVERY
    if left > 0:
        progress.wait(
            run.incident.say,
            "§8.2 vigilancia" if watch else "observación de logs",
            left,
            every,
            detail if watch else None,
        )
    found = so_far()
    observed = round(time.time() - since, 1)
    run.incident.note(
        "log_watch",
        seconds=observed,
        errors=found,
        asked=window,
        since="start" if from_start else "watch",
    )
    return found
