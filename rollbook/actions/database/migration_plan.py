"""Before Etapa 2: could the database go back by reversing migrations, or must it be restored?

The database's applied migrations (showmigrations --plan, deployed code: asked with the app's
settings by app_database.confirm, in the same Python start) against the target
release's: the ledger's record of its plan (every app, installed packages' too: a third-party
app's migrations live in site-packages), else the migration files of its tree (git) and of the
packages it runs with (those Paso 3.2 keeps as installed, the wheels of those it changes).
When the target's set is all applied, each operation of undoing the extra migrations is read
from Django's own plan (in_app/reverse_plan.py, run with the deployed code): `reversible` when
undoing them keeps every row older than the deploy (it only drops what the deployed release
added), `reversible-lossy` when it would empty, convert or run raw code over older data,
`restore` when Django cannot undo one. database_path.py chooses the way back from this
(`database.rollback`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rollbook.actions import ledger
from rollbook.actions.database import migration_history, package_migrations
from rollbook.core.errors import StepFailed
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from rollbook.core.site import Site
from rollbook.core.state import AppliedMigrations, Deployed, MigrationPlan, Target

REVERSE_PLAN = (Path(__file__).parents[1] / "in_app" / "reverse_plan.py").read_text()
MARKER = "ROLLBOOK-REVERSE-PLAN "


def classify(incident: Incident, site: Site, records: Records) -> dict[str, Any]:
    host = site.first_host("app")
    tree, venv = Checkout(host, site.env.app.path), Venv(host, site.env.app)
    target = records.need(Target)
    ref = target.commit
    asked = records.known(AppliedMigrations)  # with the app's settings, earlier in Paso 1.2
    try:
        applied = (
            asked.applied
            if asked and asked.host == host.spec
            else (ledger.applied_migrations(venv))
        )
    except StepFailed as exc:  # the deployed release may be what is broken: restore, as written
        why = f"el manage.py de la versión desplegada falló: {exc}"
        return _plan(incident, records, "unknown", [], [], [], why)
    recorded = target.migrations
    deployed = records.need(Deployed).commit  # HEAD, by its commit: Etapa 3 moves HEAD
    read = None if recorded else migration_history.trees(records, tree, venv, [ref, deployed])
    target_files = recorded or (read.migrations[ref] if read else None)
    if target_files is None:
        why = f"{ref} aún no está en {host.spec} (git fetch)"
        return _plan(incident, records, "unknown", [], [], [], why)
    deployed_files = (read.migrations[deployed] or []) if read else []
    if read:  # files: a squash and what it replaces are one history, as migrate sees it
        packages = package_migrations.packages(records, venv, site.env)
        if packages.unread:
            why = "las migraciones de la versión objetivo no se leyeron de " + "; ".join(
                f"{name}: {said}" for name, said in packages.unread.items()
            )
            return _plan(incident, records, "unknown", [], [], [], why)
        # a package's app counts where the database has applied it (installed in settings)
        installed = {m.split(".")[0] for m in applied}
        target_files = target_files + [m for m in packages.target if m.split(".")[0] in installed]
        deployed_files = deployed_files + [
            m for m in packages.deployed if m.split(".")[0] in installed
        ]
        squashed = {**packages.squashed, **read.squashed}
        target_files = sorted(migration_history.as_migrate_sees(target_files, squashed))
        seen = migration_history.as_migrate_sees(applied, squashed)
        applied = [m for m in applied if m in seen] + sorted(seen - set(applied))
        # an app both trees have files of and the database never applied is not installed (a
        # test app, a plugin left out); an app only the target has is new: its files count
        never = {m.split(".")[0] for m in deployed_files} - {m.split(".")[0] for m in applied}
        target_files = [m for m in target_files if m.split(".")[0] not in never]
    apps = {name.split(".")[0] for name in deployed_files + target_files}
    own = [m for m in applied if recorded or m.split(".")[0] in apps]
    extra = [m for m in own if m not in target_files]
    missing = [m for m in target_files if m not in applied]
    if missing:
        why = f"la versión objetivo tiene migraciones que la base de datos nunca aplicó: {missing}"
        return _plan(incident, records, "restore", extra, [], missing, why)
    if not extra:
        why = "la versión objetivo aplica las mismas migraciones"
        return _plan(incident, records, "same", [], [], [], why)
    targets = []
    for app in sorted({m.split(".")[0] for m in extra}):
        kept = [m.split(".", 1)[1] for m in target_files if m.startswith(f"{app}.")]
        targets.append((app, kept[-1] if kept else None))
    try:
        operations = reverse_operations(venv, targets)
    except StepFailed as exc:  # the deployed code's plan unreadable: restore, as written
        why = f"el plan de migraciones de Django no se leyó: {exc}"
        return _plan(incident, records, "unknown", extra, [], [], why)
    commands = [f"python {site.env.app.manage} migrate {app} {to or 'zero'}" for app, to in targets]
    irreversible = sorted({o["migration"] for o in operations if o["effect"] == "irreversible"})
    if irreversible:
        why = f"{irreversible} no se pueden revertir"
        return _plan(incident, records, "restore", extra, [], [], why, operations)
    lossy = [o for o in operations if o["effect"] in LOSSY]
    if lossy:
        why = "al revertir: " + "; ".join(sorted({describe(o) for o in lossy}))
        return _plan(
            incident, records, "reversible-lossy", extra, commands, [], why, operations, targets
        )
    return _plan(
        incident,
        records,
        "reversible",
        extra,
        commands,
        [],
        "revertir conserva cada fila; solo retira lo que la versión desplegada añadió"
        + "".join(f"; {describe(o)}" for o in operations if o["effect"] == "drops"),
        operations,
        targets,
    )


LOSSY = ("empties", "converts", "unknown")
_SAYS = {
    "drops": "retira {where} (solo la versión desplegada lo tiene; queda en el backup de "
    "seguridad)",
    "empties": "deja {where} vacío (sus valores de antes del deploy solo están en el backup)",
    "converts": "convierte {where} de vuelta (los valores pueden no sobrevivir)",
    "unknown": "ejecuta {operation} al revés (su efecto en las filas es desconocido)",
}


def describe(operation: dict[str, Any]) -> str:
    """What undoing one operation does, in a clause."""
    table, column = operation.get("table"), operation.get("column")
    where = f"{table}.{column}" if column else f"la tabla {table}"
    return _SAYS[operation["effect"]].format(where=where, operation=operation.get("operation"))


def reverse_operations(venv: Venv, targets: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Each operation of undoing the migrations down to `targets`, with its effect on the data:
    Django's own plan and model states, read by rollbook/actions/in_app/reverse_plan.py run with
    the deployed code (`manage.py shell -c`)."""
    out = venv.run(
        [venv.tool("python"), venv.app.manage, "shell", "-c", REVERSE_PLAN],
        mutating=False,
        env={"ROLLBOOK_REVERSE_TO": json.dumps(targets)},
    ).stdout
    line = next((x for x in out.splitlines() if x.startswith(MARKER)), None)
    if line is None:
        raise StepFailed(f"manage.py shell printed no migration plan: {out.strip()[-300:]}")
    return list(json.loads(line[len(MARKER) :]))


def _plan(
    incident: Incident,
    records: Records,
    kind: str,
    extra: list[str],
    commands: list[str],
    missing: list[str],
    why: str,
    operations: list[dict[str, Any]] | None = None,
    targets: list[tuple[str, str | None]] | None = None,
) -> dict[str, Any]:
    fact = records.keep(
        MigrationPlan(kind, extra, commands, missing, why, operations or [], targets or [])
    )
    incident.say(f"migrations: {kind} — {why}" + (f": {'; '.join(commands)}" if commands else ""))
    return fact.value()
