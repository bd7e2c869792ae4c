"""The app talks to the environment's database: asked of the app itself (its settings, with its
env, without connecting) before any of its commands could touch a database — an app whose
settings fall back to SQLite, or name another database, would have its migrations classified,
its backup chosen and its data restored against the wrong one. On the first app host the same
Python start then lists the applied migrations (`showmigrations --plan`, the migration plan's
question), only where the settings name the environment's database."""

from __future__ import annotations

import json
from typing import Any

from rollbook.actions.fleet import each_host
from rollbook.actions.ledger import parse_plan
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.resources import Venv
from rollbook.core.site import Site
from rollbook.core.state import AppliedMigrations

# the settings (django.setup() imports the apps and connects to nothing); then, only when they
# name the database $ROLLBOOK_PLAN_IF accepts, `showmigrations --plan` in the same process
_ASK = (
    "import io, json, os\n"
    "from django.conf import settings\n"
    "db = settings.DATABASES.get('default', {})\n"
    "said = {k: str(db.get(k) or '') for k in ('ENGINE', 'NAME', 'HOST', 'PORT')}\n"
    "print('rollbook-db', json.dumps(said), flush=True)\n"
    "want = json.loads(os.environ.get('ROLLBOOK_PLAN_IF') or 'null')\n"
    "if want and said['NAME'] == want['name'] and said['HOST'] in want['hosts'] and "
    "said['PORT'] in want['ports'] and any(e in said['ENGINE'] for e in want['engines']):\n"
    "    from django.core.management import call_command\n"
    "    out = io.StringIO()\n"
    "    try:\n"
    "        call_command('showmigrations', '--plan', stdout=out)\n"
    "        print('rollbook-plan', json.dumps(out.getvalue()))\n"
    "    except Exception as exc:\n"
    "        print('rollbook-plan-error', json.dumps(f'{type(exc).__name__}: {exc}'))\n"
)
_LOCAL = {"", "localhost", "127.0.0.1", "::1"}  # "" is the local unix socket
_ENGINES = ("postgresql", "postgis")


class SettingsUnreadable(StepFailed):
    """The deployed release's settings cannot be loaded (it may be what is being rolled back)."""


def accepted(env: Environment) -> dict[str, Any]:
    """The settings that name the environment's `database:`, however the app spells them: an
    engine of PostgreSQL's, its name, its host (any local spelling for a local one) and port
    (empty for 5432)."""
    db = env.database
    return {
        "engines": list(_ENGINES),
        "name": db.name,
        "hosts": sorted(_LOCAL) if db.host in _LOCAL else [db.host],
        "ports": [str(db.port), *([""] if db.port == 5432 else [])],
    }


def _said(stdout: str, key: str) -> list[str]:
    return [line[len(key) + 1 :] for line in stdout.splitlines() if line.startswith(f"{key} ")]


def app_database(host: Host, env: Environment, plan: bool = False) -> dict[str, Any]:
    """ENGINE, NAME, HOST, PORT of the app's default database, as its settings say; with `plan`,
    where those settings name the environment's database, also "plan": `showmigrations
    --plan`'s output (or "plan_error": why listing failed)."""
    venv = Venv(host, env.app)
    argv = [venv.tool("python"), env.app.manage, "shell", "-c", _ASK]
    asked = {"ROLLBOOK_PLAN_IF": json.dumps(accepted(env))} if plan else {}
    done = venv.run(argv, mutating=False, check=False, timeout=120, env=asked)
    said = _said(done.stdout, "rollbook-db")
    if not done.ok or not said:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SettingsUnreadable(
            f"{host.name}: the app's settings cannot be read (manage.py shell with app.env): "
            f"{why} — give the app its settings (app.env), then run again"
        )
    found: dict[str, Any] = json.loads(said[-1])
    listed, failed = _said(done.stdout, "rollbook-plan"), _said(done.stdout, "rollbook-plan-error")
    if listed:
        found["plan"] = json.loads(listed[-1])
    elif failed:
        found["plan_error"] = json.loads(failed[-1])
    return found


def mismatch(found: dict[str, Any], env: Environment) -> list[str]:
    """How the app's database differs from the environment's `database:` (empty: the same)."""
    db, want, problems = env.database, accepted(env), []
    if not any(engine in found["ENGINE"] for engine in want["engines"]):
        problems.append(f"engine {found['ENGINE'] or '(none)'}, not PostgreSQL")
    if found["NAME"] != want["name"]:
        problems.append(f"database {found['NAME'] or '(none)'}, not {db.name}")
    if found["HOST"] not in want["hosts"]:
        problems.append(f"host {found['HOST'] or '(local socket)'}, not {db.host}")
    if found["PORT"] not in want["ports"]:
        problems.append(f"port {found['PORT'] or 5432}, not {db.port}")
    return problems


def check(host: Host, env: Environment, plan: bool = False) -> dict[str, Any]:
    """StepFailed, changing nothing, when the app's database is not the environment's."""
    found = app_database(host, env, plan)
    problems = mismatch(found, env)
    if problems:
        raise StepFailed(
            f"{host.name}: the app's settings point at another database than the environment's "
            f"({'; '.join(problems)}) — nothing was changed: give the app its environment "
            "(app.env / its env file) or fix `database:` in the environment file"
        )
    return found


def confirm(incident: Incident, site: Site, records: Records) -> dict[str, dict[str, str]]:
    """Every app host's app uses the environment's database; {host: what its settings say}. The
    first app host's answer also holds the applied migrations the migration plan reads
    (AppliedMigrations), asked in the same Python start."""
    first = site.first_host("app").spec

    def confirm_on(host: Host) -> dict[str, str]:
        try:
            found = check(host, site.env, plan=host.spec == first)
        except SettingsUnreadable as exc:  # a broken deployed release must not block its rollback
            incident.say(f"WARNING: {exc} — the app's database could not be confirmed")
            return {"unconfirmed": str(exc)}
        listed = found.pop("plan", None)
        found.pop("plan_error", None)  # the migration plan asks again and says why it failed
        if listed is not None:
            records.keep(AppliedMigrations(host.spec, parse_plan(listed)))
        return found

    found = each_host(incident, site, "app", confirm_on)
    incident.note("app_database", hosts=found)
    return found
