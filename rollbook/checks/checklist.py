"""§8 — validation checklists, read-only: usable after a rollback or at any time."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from rollbook.actions import database, logs, web, workers
from rollbook.actions.fleet import each_host
from rollbook.checks import validation
from rollbook.core.errors import NotConfigured, StepFailed
from rollbook.core.host import Host
from rollbook.core.resources import Venv
from rollbook.core.run import Run
from rollbook.core.state import CeleryRoundtrip, Latency, Resources
from rollbook.services import manager_for


def service_states(run: Run) -> dict[str, bool | str]:
    """§8.1: is each of the app's services and the proxy running on every app host, and do the
    workers work (each by its method; running is not working): True, False, or why not."""
    names = [
        *run.site.env.services.app,
        *([run.site.env.services.proxy] if run.site.env.services.proxy else []),
    ]
    states: dict[str, bool | str] = {}
    for spec in run.site.hosts("app"):
        manager = manager_for(run.site.host(spec), run.site.env.services)
        up = manager.running(names)
        states |= {f"{spec} {name}": name in up for name in names}
    if run.site.env.services.workers and all(state is True for state in states.values()):
        try:
            workers.check_all(run.incident, run.site, run.records, wait=False)
            states["workers"] = True
        except StepFailed as exc:
            states["workers"] = str(exc)
    run.incident.note("services_active", **states)
    return states


def not_active(states: dict[str, bool | str]) -> list[str]:
    return [
        name if state is False else f"{name}: {state}"
        for name, state in states.items()
        if state is not True
    ]


def services_active(run: Run) -> dict[str, bool | str]:
    """The services are running and the workers work, or StepFailed naming those that are not."""
    states = service_states(run)
    stopped = not_active(states)
    if stopped:
        raise StepFailed("services not running: " + ", ".join(stopped))
    return states


def recent_log_errors(run: Run) -> list[str]:
    """§8.1: no error lines over the last minutes (the YAML's logs.recent) of the running release.

    The window starts no earlier than the app services' last start: the errors that made the
    team roll back belong to the release that is no longer running. The record says the window
    judged (shorter than the document's 5 minutes when the services started since) and how many
    error lines of the document's window came before that start.
    """
    if not run.site.env.logs.files:
        raise NotConfigured("logs.files")
    recent = run.site.env.logs.recent
    found, windows, before, unread = [], [recent], [], []
    for spec in run.site.hosts("app"):
        host = run.site.host(spec)
        window = logs.running_window(host, run.site.env.services, run.site.env.services.app, recent)
        windows.append(window)
        now = datetime.now(UTC)
        cutoff = now - timedelta(seconds=window)
        read = logs.stamped_errors(host, run.site.env.logs, now - timedelta(seconds=recent))
        before += [line for at, line in read.errors if at < cutoff]
        found += [line for at, line in read.errors if at >= cutoff]
        unread += [f"{spec} {file}" for file in read.unread]
    run.incident.note(
        "recent_log_errors",
        seconds=round(min(windows), 1),
        asked=recent,
        before_start=len(before),
        before_lines=before[:5],
        errors=found[:50],
        unread=unread,
    )
    return found


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def api_latency(run: Run) -> dict[str, dict[str, dict[str, float]]]:
    """§8.2: each main API answers 200 under the latency budget, measured from every app host;
    p50 / p95 over N requests. {host: {url: figures}}."""
    health = run.site.env.health
    budget = health.latency_budget_ms
    if not health.endpoints:
        raise NotConfigured("health.endpoints")

    def measure(host: Host) -> dict[str, dict[str, float]]:
        results, slow = {}, []
        for url in health.endpoints:
            samples = [web.http_status(host, health, url) for _ in range(health.latency_requests)]
            times = [seconds * 1000 for _, seconds in samples]
            failures = sum(1 for code, _ in samples if code != 200)
            results[url] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "requests": len(samples),
                "non_200": failures,
            }
            if failures or results[url]["p95_ms"] > budget:
                slow.append(f"{url}: p95 {results[url]['p95_ms']} ms, {failures} non-200")
        run.records.keep_host(Latency, host.spec, results)
        if slow:
            raise StepFailed(
                f"{host.name}: over the {budget} ms budget or failing: " + "; ".join(slow)
            )
        return results

    run.records.keep(Latency({}, budget_ms=budget))
    return each_host(run.incident, run.site, "app", measure)


def resources(run: Run) -> dict[str, dict[str, float]]:
    """§8.2: CPU load per core and memory used on every app host, database connections, against
    the YAML. {host: figures}."""
    limits = run.site.env.thresholds
    sql = (
        "SELECT count(*) * 100.0 / current_setting('max_connections')::int "
        "FROM pg_stat_activity WHERE backend_type = 'client backend'"
    )
    connections = round(float(database.psql(run.site.postgres(), sql).strip()), 1)

    def figures_of(host: Host) -> dict[str, float]:
        cores = int(host.run(["nproc"], mutating=False).stdout.strip())
        loadavg = host.run(["cat", "/proc/loadavg"], mutating=False).stdout
        meminfo = host.run(["cat", "/proc/meminfo"], mutating=False).stdout
        mem = {k: int(v.split()[0]) for k, v in (ln.split(":", 1) for ln in meminfo.splitlines())}
        figures = {
            "load_per_core": round(float(loadavg.split()[0]) / cores, 2),
            "memory_used_pct": round(100 - mem["MemAvailable"] * 100 / mem["MemTotal"], 1),
            "db_connections_pct": connections,
        }
        run.records.keep_host(Resources, host.spec, figures)
        over = [
            f"{k} {v} > {getattr(limits, k)}" for k, v in figures.items() if v > getattr(limits, k)
        ]
        if over:
            raise StepFailed(f"{host.name}: over the environment's thresholds: {', '.join(over)}")
        return figures

    run.records.keep(Resources({}, limits=limits.model_dump()))
    return each_host(run.incident, run.site, "app", figures_of)


def roundtrips(run: Run) -> dict[str, str]:
    """§8.2: from every app host, its own workers work and a real job goes through each queue
    and back: celery's task (celery.roundtrip_task, default celery's own `celery.accumulate`)
    and each worker's configured round-trip (services.ready.<worker>.roundtrip).
    {host: what came back}."""
    env = run.site.env
    commands = [
        w
        for w in env.services.workers
        if w in env.services.ready and env.services.ready[w].roundtrip
    ]
    untried = workers.without_roundtrip(env)
    if untried:
        run.incident.not_configured(
            f"services.ready.<worker>.roundtrip for {', '.join(untried)}: no job sent through it"
        )

    def check(host: Host) -> str:
        workers.check_host(host, env, run.records, {}, wait=False)
        said = [workers.job(host, env, name) for name in commands]
        if env.celery is not None:
            answer = workers.roundtrip(host, env)
            run.records.keep_host(CeleryRoundtrip, host.spec, answer)
            said.insert(0, answer["result"])
        return "; ".join(said)

    return each_host(run.incident, run.site, "app", check)


SCRIPT_CHECKS = ("1. Health check", "2. Servicios", "3. Base de datos", "4. Smoke tests")


def validation_script(run: Run) -> dict[str, str]:
    """§8.3: the automatic script's four checks, {check: "OK" | why it failed} in its order. They
    only read and none depends on another, so they run at once; where the script's `|| exit 1`
    stops at its first failure, every failure is said."""
    checks = (
        lambda: web.health_check(run.incident, run.site),
        lambda: services_active(run),
        lambda: _dbshell(run),
        lambda: validation.smoke_tests(run),
    )

    def one(check: Callable[[], object]) -> str:
        try:
            check()
        except StepFailed as exc:
            return str(exc)
        return "OK"

    with ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="§8.3") as pool:
        done = dict(zip(SCRIPT_CHECKS, pool.map(one, checks), strict=True))
    if all(said == "OK" for said in done.values()):
        failed = [
            e["paso"]
            for e in run.incident.journal.events("paso_finished")
            if e["status"] == "failed"
        ]
        run.incident.say(
            "=== Rollback Validado Exitosamente ==="
            if not failed
            else f"=== §8.3: sus {len(SCRIPT_CHECKS)} comprobaciones pasan, pero la validación "
            f"falló en {', '.join(failed)}: NO validado ==="
        )
    return done


def _dbshell(run: Run) -> None:
    """§8.3's `manage.py dbshell`: the app reaches its database, from every app host."""
    each_host(
        run.incident,
        run.site,
        "app",
        lambda host: Venv(host, run.site.env.app).manage(
            "dbshell", "--", "-c", "SELECT 1;", mutating=False
        ),
    )
