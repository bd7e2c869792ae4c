"""HTTP checks from the app host (curl, as the procedure does) and the maintenance page."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from rollbook.actions.fleet import each_host
from rollbook.core.config import Environment, HealthConfig, MaintenanceConfig, ServicesConfig
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.operations import MaintenanceOn
from rollbook.core.records import Records
from rollbook.core.site import Site
from rollbook.core.waiting import wait_until
from rollbook.services import manager_for


def health_status(
    host: Host, health: HealthConfig, bound: float | None = None
) -> tuple[int, float]:
    """The health URL asked on the app host (through health.unix_socket when set); `bound`:
    seconds the request may take, instead of health.timeout (a poll's short question)."""
    return http_status(host, health, health.url, health_via(health), bound)


def health_via(health: HealthConfig) -> list[str]:
    """curl's way to the health URL: through gunicorn's unix socket when the YAML names one."""
    return ["--unix-socket", health.unix_socket] if health.unix_socket else []


def http_status(
    host: Host,
    health: HealthConfig,
    url: str,
    via: list[str] | None = None,
    bound: float | None = None,
) -> tuple[int, float]:
    """(status, seconds) of a GET from the host; status 0 when nothing answered within `bound`
    (default health.timeout)."""
    seconds = health.timeout if bound is None else min(bound, health.timeout)
    result = host.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{time_total}",
            "--max-time",
            f"{seconds:g}",
            *(via or []),
            url,
        ],
        mutating=False,
        check=False,
    )
    parts = result.stdout.split()
    code = int(parts[0]) if parts and parts[0].isdigit() else 0
    return code, float(parts[1]) if len(parts) > 1 else 0.0


@dataclass(frozen=True)
class Answer:
    """How a URL answered: its status and, when two reads in a row gave the same body, that
    body's sha256 (a page with a clock or a counter in it is compared by its status alone)."""

    status: int
    body: str | None = None

    def same_as(self, before: Answer) -> bool:
        return self.status == before.status and before.body in (None, self.body)

    @classmethod
    def recorded(cls, value: int | dict[str, Any]) -> Answer:
        """From the journal (a bare status in journals written before bodies were kept)."""
        return cls(value) if isinstance(value, int) else cls(**value)

    def said(self) -> str:
        body = f", body {self.body[:12]}" if self.body else ""
        return f"{self.status or 'nothing'}{body}"


def answers(site: Site) -> dict[str, Answer]:
    """How every configured URL answers now: each app host's health URL (as Paso 6.1 asks it),
    the endpoints and critical URLs from the first app host. {"<host> <url>": Answer}."""
    firsts = {key: answer(site, key) for key in answer_keys(site)}
    return {
        key: first if first == answer(site, key) else Answer(first.status)
        for key, first in firsts.items()
    }


def answer_keys(site: Site) -> list[str]:
    """ "<host> <url>" of every configured URL: the health URL on each app host, the endpoints
    and critical URLs from the first one."""
    health, hosts = site.env.health, site.hosts("app")
    urls = [*health.endpoints, *health.critical.values()]
    keys = [f"{spec} {health.url}" for spec in hosts] + [f"{hosts[0]} {url}" for url in urls]
    return list(dict.fromkeys(keys))


def answer(site: Site, key: str) -> Answer:
    """One of `answers`' keys, asked again."""
    spec, url = key.split(" ", 1)
    health = site.env.health
    via = health_via(health) if url == health.url else []
    result = site.host(spec).run(
        [
            "curl",
            "-sS",
            "--max-time",
            str(round(health.timeout)),
            "-w",
            "\\n%{http_code}",
            *via,
            url,
        ],
        mutating=False,
        check=False,
    )
    body, _, code = result.stdout.rpartition("\n")
    status = int(code) if code.isdigit() else 0
    return Answer(status, hashlib.sha256(body.encode()).hexdigest() if status else None)


def http_body(host: Host, health: HealthConfig, url: str, via: list[str] | None = None) -> str:
    argv = ["curl", "-sS", "--max-time", str(round(health.timeout)), *(via or []), url]
    return host.run(argv, mutating=False, check=False).stdout


def health_answers(incident: Incident, site: Site) -> dict[str, dict[str, object]]:
    """Paso 6.1 / §8.1: what the health URL answers on every app host, {spec: {status, body}}
    (status 0: no answer). Right after a restart (Paso 6.1) the app may still warm up: a bounded
    wait for 200. A checklist run probes the running system as it is: one request."""
    health = site.env.health
    wait = 0.0 if incident.checklist else site.env.services.start_timeout

    def answer(host: Host) -> dict[str, object]:
        status = wait_until(lambda: health_status(host, health)[0] == 200, wait)
        code = 200 if status else health_status(host, health)[0]
        body = "" if code == 200 else http_body(host, health, health.url, health_via(health))
        return {"status": code, "body": body[:300]}

    answers = each_host(incident, site, "app", answer)
    codes = {spec: a["status"] for spec, a in answers.items()}
    worst = next((code for code in codes.values() if code != 200), 200)
    incident.note("health", url=health.url, status=worst, hosts=codes)
    return answers


def unhealthy(health: HealthConfig, answers: dict[str, dict[str, object]]) -> list[str]:
    """The hosts whose health URL did not answer 200, with what they said."""
    return [
        f"{spec}: {health.url} answered {a['status'] or 'nothing'} (expected 200): {a['body']}"
        for spec, a in answers.items()
        if a["status"] != 200
    ]


def health_check(incident: Incident, site: Site) -> int:
    """The health URL answers 200 on every app host, or StepFailed saying what it answered."""
    bad = unhealthy(site.env.health, health_answers(incident, site))
    if bad:
        raise StepFailed("; ".join(bad))
    return 200


def _page(env: Environment) -> MaintenanceConfig:
    assert env.maintenance is not None  # the Pasos that need it are skipped without it
    return env.maintenance


def maintenance_on(host: Host, env: Environment) -> None:
    """Paso 2.3: copy the template into place and reload the proxy (checked first by the
    caller: a broken configuration changes nothing)."""
    page = _page(env)
    host.run(["cp", page.template, page.page], mutating=True, root="maintenance")
    _reload_proxy(host, env.services)


def maintenance_off(host: Host, env: Environment) -> None:
    """Paso 5.3: remove the page and reload the proxy."""
    page = _page(env)
    _check_proxy(host, env.services)
    host.run(["rm", "-f", page.page], mutating=True, root="maintenance")
    _reload_proxy(host, env.services)


def maintenance_active(host: Host, env: Environment) -> bool:
    return host.run(["test", "-f", _page(env).page], mutating=False, check=False).ok


# no answer, or the proxy's own (bad gateway, unavailable, gateway timeout): it misses the app
PROXY_ERRORS = (0, 502, 503, 504)


def public_state(
    incident: Incident, site: Site, *, reaching: bool = False
) -> tuple[bool, dict[str, int]]:
    """Paso 2.3 / 5.3: is the maintenance page in place; what the first public endpoint answers.
    `reaching` (Paso 5.3): waited for, up to services.start_timeout, until it answers anything
    but the proxy's own errors — a proxy that marked the app's servers down while they were
    stopped tries them again only after its own timeout (nginx's fail_timeout: 10 s)."""
    health, first = site.env.health, site.first_host("proxy")
    wait = site.env.services.start_timeout if reaching else 0.0

    def answer(url: str) -> int:
        codes: list[int] = []

        def reached() -> bool:
            codes.append(http_status(first, health, url)[0])
            return codes[-1] not in PROXY_ERRORS

        wait_until(reached, wait)
        return codes[-1]

    answers = {url: answer(url) for url in health.endpoints[:1]}
    active = each_host(incident, site, "proxy", lambda host: maintenance_active(host, site.env))
    return all(active.values()), answers


def maintenance_everywhere(
    incident: Incident, site: Site, records: Records, on: bool, among: list[str] | None = None
) -> None:
    """Paso 2.3 (on) / 5.3 and §9 (off) on every proxy host (the app hosts unless hosts.proxy;
    only those `among`, when given). A proxy whose configuration is broken is left untouched."""
    if not on:
        each_host(
            incident, site, "proxy", lambda host: maintenance_off(host, site.env), among=among
        )
        return

    def put_up(host: Host) -> None:
        _check_proxy(host, site.env.services)  # broken: nothing changed, nothing to undo
        with records.operation(MaintenanceOn([host.spec])):  # §9 takes it down
            maintenance_on(host, site.env)

    each_host(incident, site, "proxy", put_up, among=among)


def _check_proxy(host: Host, services: ServicesConfig) -> None:
    """Before anything changes: the proxy would take its configuration (a reload ignores errors)."""
    argv = services.proxy_check
    if not argv:
        return
    result = host.run(argv, mutating=False, check=False, root="proxy_check")
    if not result.ok:
        raise StepFailed(
            f"{host.describe_failure(result)} — the proxy's configuration is broken, so "
            "nothing was changed or reloaded: fix the file it names (`"
            f"{' '.join(argv)}` must pass), then run again"
        )


def _reload_proxy(host: Host, services: ServicesConfig) -> None:
    if services.proxy:
        manager_for(host, services).reload(services.proxy)
