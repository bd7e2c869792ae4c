"""Messages of the procedure (Pasos 1.4, 7.2, §9.1): shown to the operator, journaled, and sent
through apprise to every URL of the environment's `notify` list.

A notification never stops a rollback: an unset variable, an unknown URL, a failure or a timeout is
a `notification_warning` event in the journal, never an exception. Each URL is a secret (it often
holds a token): it is redacted everywhere, and the journal names its variable and service instead.
"""

from __future__ import annotations

import logging

import apprise

from rollbook.core.config import Person
from rollbook.core.executor import Mode
from rollbook.core.run import Run
from rollbook.governance import people

SEND_TIMEOUT = 5.0  # seconds, to connect and to read the answer, per URL
# §11.1: "Notificar a stakeholders inmediatamente"; §10.2 and §12.4: the on-call engineer
STARTING = ("incident_manager", "tech_lead", "on_call")
ESCALATION = ("tech_lead", "dba")  # §9.1: "Escalar a Tech Lead y DBA inmediatamente"
UNRECOVERED = (*ESCALATION, "cto")  # §9.2: "Escalar a CTO/Director de Ingenieria"
# Paso 1.3: "Si no hay backup valido, escalar a Tech Lead"; Anexo C: "NO --> Escalar a DBA/CTO"
NO_BACKUP = ("tech_lead", "dba", "cto")
CLOSING = ("product_owner",)  # §7.3: "Notificar a Product Owner"


def announce(run: Run, kind: str, lines: list[str], roles: tuple[str, ...] = ()) -> str:
    """Print and journal the message, then send it (title: its first line) to every channel and
    to each person holding one of `roles` (§9.1, Anexo C, §7.3), through their own notify_env;
    a person without one is a warning naming how to reach them."""
    addressed = people.holding(run.site.env, list(roles))
    if roles:
        lines = [*lines, _addressed_line(run, addressed, roles)]
    urls = [
        (target.url_env, run.site.secret_or_none(target.url_env)) for target in run.site.env.notify
    ]
    text = "\n".join(lines)
    width = max(len(line) for line in lines) + 4
    run.incident.say(
        "\n" + "=" * width + "\n" + "\n".join(f"  {line}" for line in lines) + "\n" + "=" * width
    )
    run.incident.journal.write("notification", paso=run.incident.paso, kind=kind, text=text)
    for variable, url in urls:
        _send(run, kind, variable, url, lines[0], "\n".join(lines[1:]) or lines[0])
    for person in addressed:
        title = f"{lines[0]} — para {person.name}"
        if person.notify_env:
            url = run.site.secret_or_none(person.notify_env)
            _send(run, kind, person.notify_env, url, title, "\n".join(lines[1:]) or title)
        else:
            run.incident.journal.write(
                "notification_warning",
                paso=run.incident.paso,
                kind=kind,
                target=person.name,
                reason="nothing sent: no notify_env; reach them at "
                + (person.contact or person.identity),
            )
    return text


def _addressed_line(run: Run, addressed: list[Person], roles: tuple[str, ...]) -> str:
    if not addressed:
        return f"Avisar a: nadie tiene el rol {' / '.join(roles)} en {run.site.env.name} (people)"
    return "Avisar a: " + "; ".join(
        f"{p.name} ({', '.join(r for r in p.roles if r in roles)}, {p.contact or p.identity})"
        for p in addressed
    )


def _send(run: Run, kind: str, variable: str, url: str | None, title: str, body: str) -> None:
    target, problem = _deliver(run, variable, url, title, body)
    paso = run.incident.paso
    if problem is not None:
        run.incident.journal.write(
            "notification_warning", paso=paso, kind=kind, target=target, reason=problem
        )
    elif run.site.mode is Mode.EXECUTE:
        run.incident.journal.write("notification_sent", paso=paso, kind=kind, target=target)
    else:
        run.incident.journal.write("notification_planned", paso=paso, kind=kind, target=target)


def _deliver(
    run: Run, variable: str, url: str | None, title: str, body: str
) -> tuple[str, str | None]:
    """Send to `url` unless the run changes nothing (a dry run), within SEND_TIMEOUT: the target
    as the journal may show it, and why nothing was sent (None: sent)."""
    if url is None:
        return variable, f"nothing sent: {variable} is not set (export it to notify this channel)"
    service = apprise.Apprise.instantiate(url)
    if service is None:
        return variable, f"nothing sent: {variable} is not a notification URL apprise knows"
    target = f"{variable} ({service.service_name})"
    if run.site.mode is not Mode.EXECUTE:
        return target, None
    service.socket_connect_timeout = SEND_TIMEOUT
    service.socket_read_timeout = SEND_TIMEOUT
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
        try:
            sent = service.notify(body=body, title=title)
        except Exception as error:  # a notification must never stop a rollback
            return target, f"not sent: {error}"
    if sent:
        return target, None
    reasons = [line for line in log.getvalue().splitlines() if line.strip()]
    return target, f"not sent: {reasons[-1] if reasons else 'apprise reported a failure'}"


NOT_DELIVERED = "NO ENTREGADO"


def undelivered(run: Run, kind: str) -> list[str]:
    """The channels a message of `kind` did not reach, with why: "<target>: <reason>"."""
    warned = run.incident.journal.events("notification_warning")
    return [f"{e['target']}: {e['reason']}" for e in warned if e["kind"] == kind]


def delivered(run: Run, kind: str) -> dict[str, str]:
    """The channels a message of `kind` reached: {its variable: when (the journal's stamp)}."""
    return {
        str(e["target"]).split(" ")[0]: str(e["ts"])
        for e in run.incident.journal.events("notification_sent")
        if e["kind"] == kind
    }


def escalate_undelivered(run: Run, kind: str, missing: list[str]) -> str:
    """A message some channels did not get: said NO ENTREGADO, and sent as an escalation through
    the channels that work (the rollback goes on)."""
    said = f"{NOT_DELIVERED} ({kind}): " + "; ".join(missing)
    run.incident.journal.write(
        "notification_undelivered", paso=run.incident.paso, kind=kind, missing=missing
    )
    if delivered(run, kind):
        announce(
            run,
            "escalation",
            [
                f"ROLLBACK {run.site.env.name.upper()}: aviso {NOT_DELIVERED}",
                said,
                f"Incidente: {run.incident.id}",
            ],
            roles=ESCALATION,
        )
    return said
