"""Paso 1.1's criteria for an immediate rollback, observed where a tool can observe them, before
anyone acts: beside the operator's declaration (--severity, --reason), what the app's URLs answer,
whether the database answers and how many error lines the app's logs are stamped with in the
last minute. A CRITICO declared while nothing observable is down is said as a contradiction
(never a refusal: the operator may see what the URLs do not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollbook.actions import database, logs, web
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.site import Site
from rollbook.core.state import SymptomsObserved

DOWN = "Servicio completamente caído (HTTP 500/503 del health check en cada servidor)"
CRITICAL = "Funcionalidad crítica no responde"
NO_DATABASE = "Base de datos inaccesible o corrupta"
LOG_RATE = "Errores críticos en logs (rate > 100/min)"
RATE = 100  # error lines a minute, the document's threshold
NO_LOSS_SEEN = "Pérdida de datos detectada"  # what the app lost is not a tool's to see
EVIDENCE = 5  # first error lines kept: the root cause's evidence
# s: how far back the first error of the running release is looked for
RUNNING_AT_MOST = 7 * 86400.0


def _failing(status: int) -> bool:
    return status == 0 or status >= 500


def verdict(
    statuses: dict[str, int],
    health: list[str],
    critical: list[str],
    reached: str,
    severity: str | None,
    per_minute: int | None = None,
) -> tuple[list[str], dict[str, int], str | None]:
    """(the criteria met, the URLs failing, a contradiction with a CRITICO declared or None)
    from each URL's status (0: no answer), the keys of the health URL on each app host (the
    app's own word on whether it is up: failing on all, the service is down) and of the critical
    functions, the database's answer and the error lines of the last minute (None: no logs)."""
    met = [
        name
        for name, yes in (
            (DOWN, bool(health) and all(_failing(statuses[k]) for k in health)),
            (CRITICAL, any(_failing(statuses[k]) for k in critical)),
            (NO_DATABASE, reached != "responde"),
            (LOG_RATE, per_minute is not None and per_minute > RATE),
        )
        if yes
    ]
    failing = {key: status for key, status in statuses.items() if _failing(status)}
    logged = (
        "" if per_minute is None else f" y los logs tienen {per_minute} errores en el último minuto"
    )
    contradiction = (
        f"severidad {severity} declarada (servicio caído), pero ningún criterio observable de "
        f"rollback inmediato se cumple: {len(statuses) - len(failing)} de {len(statuses)} URLs "
        f"responden sin error, la base de datos responde{logged}"
        if severity == "CRITICO" and not met
        else None
    )
    return met, failing, contradiction


def log_errors(site: Site, now: datetime) -> dict[str, Any] | None:
    """The running release's errors in the app hosts' logs (one per error: a traceback after
    its stamped line is that error): in the last minute (the rate), in the last `logs.recent`,
    and the first since its services started (an earlier release's are not this one's; a
    service that does not say its uptime: `logs.recent`), which dates the problem and is the
    root cause's evidence (within each file's last logs.TAIL_BYTES). None without `logs.files`."""
    if not site.env.logs.files:
        return None
    recent, seen, windows, unread = site.env.logs.recent, [], [], []
    for spec in site.hosts("app"):
        host = site.host(spec)
        services = site.env.services
        window = logs.running_window(host, services, services.app, RUNNING_AT_MOST)
        window = recent if window >= RUNNING_AT_MOST else window  # no uptime said: the document's
        windows.append(window)
        read = logs.stamped_errors(host, site.env.logs, now - timedelta(seconds=window))
        seen += [(at, f"{spec} {line}") for at, line in read.errors]
        unread += [f"{spec} {file}" for file in read.unread]
    seen.sort(key=lambda found: found[0])  # stable: a file's lines of one second keep their order
    running = min(windows)
    return {
        "per_minute": sum(1 for at, _ in seen if at >= now - timedelta(minutes=1)),
        "window": round(min(recent, running), 1),
        "asked": recent,
        "in_window": sum(1 for at, _ in seen if at >= now - timedelta(seconds=recent)),
        "since_start": round(running, 1),
        "first": seen[0][0].astimezone(UTC).isoformat(timespec="milliseconds") if seen else None,
        "lines": [line[:300] for _, line in seen[:EVIDENCE]],
        "unread": unread,
    }


def observe(incident: Incident, site: Site, records: Records) -> SymptomsObserved:
    """The observable criteria of Paso 1.1, recorded as `symptoms_observed`; a contradiction
    with the declared severity is said."""
    health, hosts = site.env.health, site.hosts("app")
    own = [f"{spec} {health.url}" for spec in hosts]
    statuses = {key: web.answer(site, key).status for key in web.answer_keys(site)}
    critical = [f"{hosts[0]} {url}" for url in health.critical.values()]
    try:
        database.psql(site.postgres(), "SELECT 1")
        reached = "responde"
    except StepFailed as exc:
        reached = f"no responde: {str(exc).splitlines()[0][:200]}"
    try:
        logged = log_errors(site, datetime.now(UTC))
        failed = None
    except StepFailed as exc:  # an observation: never what stops the rollback
        logged, failed = None, str(exc).splitlines()[0][:200]
    read = logged is not None and not logged["unread"]
    per_minute = logged["per_minute"] if logged and read else None
    met, failing, contradiction = verdict(
        statuses, own, critical, reached, incident.options.severity, per_minute
    )
    why = failed or (
        f"sin leer: {', '.join(logged['unread'])}" if logged else "logs.files no configurado"
    )
    unseen = [NO_LOSS_SEEN] + ([] if read else [f"{LOG_RATE} ({why})"])
    fact = records.keep(
        SymptomsObserved(
            urls=statuses,
            failing=failing,
            database=reached,
            log_errors=logged,
            criteria_met=met,
            not_observed=unseen,
            contradiction=contradiction,
        )
    )
    incident.say(
        f"observed (Paso 1.1): {len(failing)} of {len(statuses)} URLs failing"
        + (f" {failing}" if failing else "")
        + f"; database {reached}"
        + (
            f"; {per_minute} errors in the logs over the last minute"
            if per_minute is not None
            else ""
        )
    )
    if contradiction:
        incident.say(f"WARNING: CONTRADICCIÓN — {contradiction}")
    return fact


def summary(seen: SymptomsObserved | None) -> str:
    """One line for the record: what Paso 1.1 observed, and a contradiction if any."""
    if seen is None:
        return "n/d"
    urls, failing = seen.urls, seen.failing
    said = (
        f"{len(failing)} de {len(urls)} URLs con error"
        + (f" ({', '.join(f'{k}: {v}' for k, v in failing.items())})" if failing else "")
        + f"; base de datos {seen.database}"
        + _logged(seen.log_errors)
        + "; criterios cumplidos: "
        + (", ".join(seen.criteria_met) or "ninguno")
        + f"; no observados: {', '.join(seen.not_observed)}"
    )
    return said + (f" — CONTRADICCIÓN: {seen.contradiction}" if seen.contradiction else "")


def _logged(logged: dict[str, Any] | None) -> str:
    if not logged:
        return ""
    since = "" if logged["window"] >= logged["asked"] else " (desde el inicio de los servicios)"
    said = (
        f"; errores en logs: {logged['per_minute']} en el último minuto, "
        f"{logged['in_window']} en los últimos {logged['window']:.0f} s{since}"
    )
    if logged["first"]:
        running = logged.get("since_start", logged["window"])
        said += (
            f"; el primero desde el inicio de los servicios (hace {running:.0f} s): "
            f"{logged['first'][11:19]} UTC, {logged['lines'][0]}"
        )
    if logged.get("unread"):
        said += f"; SIN LEER: {', '.join(logged['unread'])}"
    return said
