"""The app talks to the environment's database: asked of the app itself (its settings, with its
env, without connecting) before any of its commands could touch a database — an app whose
settings fall back to SQLite, or name another database, would have its migrations classified,
its backup chosen and its data restored against the wrong one."""

from __future__ import annotations

import json

from rollbook.actions.fleet import each_host
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.resources import Venv
from rollbook.core.site import Site

# settings only: django.setup() imports the apps and connects to nothing
_ASK = (
    "import json\n"
    "from django.conf import settings\n"
    "db = settings.DATABASES.get('default', {})\n"
    "print('rollbook-db', json.dumps({k: str(db.get(k) or '') for k in "
    "('ENGINE', 'NAME', 'HOST', 'PORT')}))\n"
)
_LOCAL = {"", "localhost", "127.0.0.1", "::1"}  # "" is the local unix socket


class SettingsUnreadable(StepFailed):
    """The deployed release's settings cannot be loaded (it may be what is being rolled back)."""


def app_database(host: Host, env: Environment) -> dict[str, str]:
    """ENGINE, NAME, HOST, PORT of the app's default database, as its settings say."""
    venv = Venv(host, env.app)
    argv = [venv.tool("python"), env.app.manage, "shell", "-c", _ASK]
    done = venv.run(argv, mutating=False, check=False, timeout=120)
    said = [line[len("rollbook-db ") :] for line in done.stdout.splitlines()
            if line.startswith("rollbook-db ")]  # fmt: skip
    if not done.ok or not said:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SettingsUnreadable(
            f"{host.name}: the app's settings cannot be read (manage.py shell with app.env): "
            f"{why} — give the app its settings (app.env), then run again"
        )
    return json.loads(said[-1])


def mismatch(found: dict[str, str], env: Environment) -> list[str]:
    """How the app's database differs from the environment's `database:` (empty: the same)."""
    db, problems = env.database, []
    if "postgresql" not in found["ENGINE"] and "postgis" not in found["ENGINE"]:
        problems.append(f"engine {found['ENGINE'] or '(none)'}, not PostgreSQL")
    if found["NAME"] != db.name:
        problems.append(f"database {found['NAME'] or '(none)'}, not {db.name}")
    host = found["HOST"]
    same_host = host == db.host or (host in _LOCAL and db.host in _LOCAL)
    if not same_host:
        problems.append(f"host {host or '(local socket)'}, not {db.host}")
    if int(found["PORT"] or 5432) != db.port:
        problems.append(f"port {found['PORT'] or 5432}, not {db.port}")
    return problems


def check(host: Host, env: Environment) -> dict[str, str]:
    """StepFailed, changing nothing, when the app's database is not the environment's."""
    found = app_database(host, env)
    problems = mismatch(found, env)
    if problems:
        raise StepFailed(
            f"{host.name}: the app's settings point at another database than the environment's "
            f"({'; '.join(problems)}) — nothing was changed: give the app its environment "
            "(app.env / its env file) or fix `database:` in the environment file"
        )
    return found


def confirm(incident: Incident, site: Site) -> dict[str, dict[str, str]]:
    """Every app host's app uses the environment's database; {host: what its settings say}."""

    def confirm_on(host: Host) -> dict[str, str]:
        try:
            return check(host, site.env)
        except SettingsUnreadable as exc:  # a broken deployed release must not block its rollback
            incident.say(f"WARNING: {exc} — the app's database could not be confirmed")
            return {"unconfirmed": str(exc)}

    found = each_host(incident, site, "app", confirm_on)
    incident.note("app_database", hosts=found)
    return found
