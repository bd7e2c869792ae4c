"""Etapa 1 — evaluation and decision: incident record, target release, backup, start notice."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from rollbook.actions import backups, ledger, migration_plan, release
from rollbook.actions.decision import decide
from rollbook.checks import prerequisites
from rollbook.core.errors import StepFailed
from rollbook.core.executor import Mode
from rollbook.core.host import Host
from rollbook.core.resources import Checkout
from rollbook.core.run import Run
from rollbook.core.state import ChosenBackup, Deployed, Target
from rollbook.record import approval, signing
from rollbook.record.notify import announce


def record_incident(run: Run) -> dict[str, object]:
    """Paso 1.1: symptoms, severity, impact and the decision, with who approved it."""
    opts = run.options
    missing = [name for name, value in (("--reason", opts.reason), ("--severity", opts.severity))
               if not value]  # fmt: skip
    if missing:
        raise StepFailed(f"the incident needs {' and '.join(missing)}: say what was observed")
    key = opts.signing_key or (run.env.signing.key if run.env.signing else None)
    if key is not None:  # a record that cannot be signed is refused before any change
        problem = signing.usable_key(key)
        if problem:
            raise StepFailed(f"the incident record cannot be signed: {problem}")
    approved = approval.establish(run)
    prerequisites.checks_configured(run)
    approver = approved.get("approver") or (
        "(el plan, para aprobar)" if approved["status"] == approval.PENDING else None
    )
    tree = decide(opts.severity, opts.users_affected, valid_backup=True, approved_by=approver)
    run.record("decision_tree", branch=tree.branch, proceed=tree.proceed, reason=tree.reason)
    if not tree.proceed:
        raise StepFailed(f"Anexo C decision tree: {tree.branch} — {tree.reason}")
    decision = (
        "ROLLBACK INICIADO — aprobación pendiente (emergencia crítica, §11.1.1)"
        if approved["status"] == approval.PENDING and run.mode is not Mode.DRY_RUN
        else f"ROLLBACK APROBADO por {approved['approver']}" if approved.get("approver")
        else f"ROLLBACK sin aprobación ({approved['status']} en {run.env.name})"
    )  # fmt: skip
    incident = run.record(
        "incident",
        id=run.incident_id,
        symptoms=opts.reason,
        severity=opts.severity,
        impact=opts.impact or "no indicado",
        users_affected=opts.users_affected,
        tree=tree.branch,
        decision=decision,
        approved_by=approved.get("approver"),
        approval=approval.summary(approved),
        operator=opts.operator,
    )
    run.say(
        f"## Incidente: {run.incident_id}\n- Síntomas observados: {opts.reason}\n"
        f"- Severidad: {opts.severity}\n- Impacto: {incident['impact']}\n"
        f"- Decisión: {incident['decision']}"
    )
    return incident


def identify_target(run: Run) -> Target:
    """Paso 1.2: the deployed release and the last stable deploy tag below it."""
    tree = Checkout(run.first_host("app"), run.env.app.path)
    deployed = release.deployed_release(tree, run.env.app.tags)
    recorded = ledger.latest(ledger.read(tree.host, run.env.ledger_file()))
    target, reason = release.choose_target(run, tree, deployed, run.options.target_tag, recorded)
    deployed_at, source = release.deploy_time(tree, deployed)
    run.keep(Deployed(**asdict(deployed), deployed_at=deployed_at, deployed_at_from=source))
    entry = recorded.get(str(target.tag)) or {}
    fact = run.keep(Target(
        **asdict(target), reason=reason, ledger_status=entry.get("status"),
        packages=entry.get("packages"), migrations=entry.get("migrations"),
        migration_rows=entry.get("migration_rows"),
    ))  # fmt: skip
    run.say(
        f"deployed: {deployed.tag or '(untagged)'} {deployed.commit[:12]} — "
        f"target: {target.tag} {target.commit[:12]} ({reason})"
    )
    return fact


def verify_backup(run: Run) -> ChosenBackup:
    """Paso 1.3: the backup of the stable version exists, is recent, complete, and a backup of
    this application at the target's migration state. A chosen backup that fails is set aside
    for the next older one (§10.1: usar backup N-1); a --backup that fails stops the run."""
    host, db = run.first_host("db"), run.env.database
    deployed = run.need(Deployed)  # an incident resumed from an older journal: its date
    deployed_at = float(deployed.deployed_at or deployed.date)
    expected = _expected_migrations(run)
    refused: list[str] = []
    for file in backups.candidates(host, db, run.options.backup, deployed_at):
        try:
            backup = backups.check_backup(host, db, file, named=run.options.backup is not None)
            identity = _identity(host, backup, expected)
            break
        except backups.BackupRefused as exc:
            if run.options.backup is not None:
                raise
            refused.append(exc.problem)
            run.say(f"{exc.problem} — refused; the next older backup is tried (§10.1, N-1)")
    else:
        raise backups.BackupRefused(
            f"none of the {len(refused)} backups older than the deployed release can be used: "
            + "; ".join(refused)
        )
    fact = run.keep(ChosenBackup(**asdict(backup), host=host.spec, identity=identity,
                                 refused=refused))  # fmt: skip
    run.say(
        f"backup: {backup.path} ({backup.format}, {backup.size} bytes, "
        f"{backup.age / 3600:.1f} h old, sha256 {backup.sha256[:16]}…; {identity}) — Backup OK"
        + (f"\nWARNING: {backup.over_age}" if backup.over_age else "")
    )
    return fact


Expected = tuple[set[str], set[str] | None, str]  # migrations, the apps compared, their source


def _expected_migrations(run: Run) -> Expected | str:
    """The migrations the target release runs with: the ledger's record of its database's
    django_migrations rows (or, in an older record, its plan), else its tree's migration files
    (the repository's own apps); else why the identity cannot be checked."""
    target = run.need(Target)
    name = target.name
    if run.env.database.marker_table != backups.DJANGO_MIGRATIONS:
        return f"identity not checked: database.marker_table is not {backups.DJANGO_MIGRATIONS}"
    if target.migration_rows:  # exactly what a backup of that state holds
        return set(target.migration_rows), None, f"the ledger's record of {name}'s database"
    if target.migrations:
        return set(target.migrations), None, f"the ledger's record of {name}"
    tree = Checkout(run.first_host("app"), run.env.app.path)
    files = migration_plan.migrations_in_tree(tree, target.commit)
    if files:
        return set(files), {m.split(".")[0] for m in files}, f"{name}'s migration files"
    return f"identity not checked: no ledger record of {name} and its tree is not fetched here"


def _identity(host: Host, backup: backups.Backup, expected: Expected | str) -> str:
    if isinstance(expected, str):
        return expected
    migrations, apps, source = expected
    applied = backups.applied_in_backup(host, backup.path, backup.format)
    problem = backups.identity_problem(applied, migrations, apps, source)
    if problem:
        raise backups.BackupRefused(f"the backup {backup.path} {problem}")
    return f"its {backups.DJANGO_MIGRATIONS} matches {source}"


def announce_start(run: Run) -> str:
    """Paso 1.4: ROLLBACK INICIADO in the incidents channel."""
    target = run.need(Target)
    return announce(
        run,
        "start",
        [
            f"ROLLBACK INICIADO - {run.env.name.upper()}",
            f"Hora: {datetime.now(UTC):%H:%M} UTC",
            f"Razón: {run.options.reason}",
            f"Versión objetivo: {target.name}",
            "ETA: 10 minutos",
            f"Ejecutado por: {run.options.operator}",
            f"Incidente: {run.incident_id}",
        ],
    )
