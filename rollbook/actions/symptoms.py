"""Paso 1.1's criteria for an immediate rollback, observed where a tool can observe them, before
anyone acts: beside the operator's declaration (--severity, --reason), what the app's URLs answer
and whether the database answers. A CRITICO declared while nothing observable is down is said as
a contradiction (never a refusal: the operator may see what the URLs do not)."""

from __future__ import annotations

from typing import Any

from rollbook.actions import database, web
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.site import Site

DOWN = "Servicio completamente caído (HTTP 500/503 del health check en cada servidor)"
CRITICAL = "Funcionalidad crítica no responde"
NO_DATABASE = "Base de datos inaccesible o corrupta"
NOT_OBSERVED = ["Errores críticos en logs (rate > 100/min)", "Pérdida de datos detectada"]


def _failing(status: int) -> bool:
    return status == 0 or status >= 500


def verdict(
    statuses: dict[str, int],
    health: list[str],
    critical: list[str],
    reached: str,
    severity: str | None,
) -> tuple[list[str], dict[str, int], str | None]:
    """(the criteria met, the URLs failing, a contradiction with a CRITICO declared or None)
    from each URL's status (0: no answer), the keys of the health URL on each app host (the
    app's own word on whether it is up: failing on all, the service is down) and of the critical
    functions, and the database's answer."""
    met = [name for name, yes in (
        (DOWN, bool(health) and all(_failing(statuses[k]) for k in health)),
        (CRITICAL, any(_failing(statuses[k]) for k in critical)),
        (NO_DATABASE, reached != "responde"),
    ) if yes]  # fmt: skip
    failing = {key: status for key, status in statuses.items() if _failing(status)}
    contradiction = (
        f"severidad {severity} declarada (servicio caído), pero ningún criterio observable de "
        f"rollback inmediato se cumple: {len(statuses) - len(failing)} de {len(statuses)} URLs "
        "responden sin error y la base de datos responde"
        if severity == "CRITICO" and not met else None
    )  # fmt: skip
    return met, failing, contradiction


def observe(incident: Incident, site: Site) -> dict[str, Any]:
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
    met, failing, contradiction = verdict(statuses, own, critical, reached,
                                          incident.options.severity)  # fmt: skip
    fact = incident.note("symptoms_observed", urls=statuses, failing=failing, database=reached,
                         criteria_met=met, not_observed=NOT_OBSERVED,
                         contradiction=contradiction)  # fmt: skip
    incident.say(f"observed (Paso 1.1): {len(failing)} of {len(statuses)} URLs failing"
                 + (f" {failing}" if failing else "") + f"; database {reached}")  # fmt: skip
    if contradiction:
        incident.say(f"WARNING: CONTRADICCIÓN — {contradiction}")
    return fact


def summary(fact: dict[str, Any] | None) -> str:
    """One line for the record: what Paso 1.1 observed, and a contradiction if any."""
    if not fact:
        return "n/d"
    urls, failing = fact["urls"], fact["failing"]
    said = (f"{len(failing)} de {len(urls)} URLs con error"
            + (f" ({', '.join(f'{k}: {v}' for k, v in failing.items())})" if failing else "")
            + f"; base de datos {fact['database']}; criterios cumplidos: "
            + (", ".join(fact["criteria_met"]) or "ninguno")
            + f"; no observados: {', '.join(fact['not_observed'])}")  # fmt: skip
    return said + (f" — CONTRADICCIÓN: {fact['contradiction']}" if fact["contradiction"] else "")
