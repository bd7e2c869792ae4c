"""Etapa 1 — evaluation: the target release and the backup (the incident record and the start
notice: rollbook.governance.incident_entry)."""

from __future__ import annotations

from dataclasses import asdict

from rollbook.actions import ledger, release
from rollbook.actions.database import backups, migration_history, package_migrations
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from rollbook.core.site import Site
from rollbook.core.state import ChosenBackup, Deployed, Squashes, Target


def identify_target(incident: Incident, site: Site, records: Records) -> Target:
    """Paso 1.2: the deployed release and the last stable deploy tag below it."""
    tree = Checkout(site.first_host("app"), site.env.app.path)
    deployed = release.deployed_release(tree, site.env.app.tags)
    recorded = ledger.latest(ledger.read(tree.host, site.env.ledger_file()))
    target, reason = release.choose_target(
        incident, site, tree, deployed, incident.options.target_tag, recorded
    )
    deployed_at, source = release.deploy_time(tree, deployed)
    records.keep(Deployed(**asdict(deployed), deployed_at=deployed_at, deployed_at_from=source))
    entry = recorded.get(str(target.tag)) or {}
    fact = records.keep(
        Target(
            **asdict(target),
            reason=reason,
            ledger_status=entry.get("status"),
            packages=entry.get("packages"),
            migrations=entry.get("migrations"),
            migration_rows=entry.get("migration_rows"),
        )
    )
    incident.say(
        f"deployed: {deployed.tag or '(untagged)'} {deployed.commit[:12]} — "
        f"target: {target.tag} {target.commit[:12]} ({reason})"
    )
    return fact


def verify_backup(incident: Incident, site: Site, records: Records) -> ChosenBackup:
    """Paso 1.3: the backup of the stable version exists, is recent, complete, and a backup of
    this application at the target's migration state. A chosen backup that fails is set aside
    for the next older one (§10.1: usar backup N-1); a --backup that fails stops the run."""
    host, db = site.first_host("db"), site.env.database
    deployed = records.need(Deployed)  # an incident resumed from an older journal: its date
    deployed_at = float(deployed.deployed_at or deployed.date)
    expected = _expected_migrations(site, records)
    refused: list[str] = []
    for file in backups.candidates(host, db, incident.options.backup, deployed_at):
        try:
            backup = backups.check_backup(host, db, file, named=incident.options.backup is not None)
            identity = _identity(host, backup, expected)
            break
        except backups.BackupRefused as exc:
            if incident.options.backup is not None:
                raise
            refused.append(exc.problem)
            incident.say(f"{exc.problem} — refused; the next older backup is tried (§10.1, N-1)")
    else:
        raise backups.BackupRefused(
            f"none of the {len(refused)} backups older than the deployed release can be used: "
            + "; ".join(refused)
        )
    fact = records.keep(
        ChosenBackup(**asdict(backup), host=host.spec, identity=identity, refused=refused)
    )
    incident.say(
        f"backup: {backup.path} ({backup.format}, {backup.size} bytes, "
        f"{backup.age / 3600:.1f} h old, sha256 {backup.sha256[:16]}…; {identity}) — Backup OK"
        + (f"\nWARNING: {backup.over_age}" if backup.over_age else "")
    )
    return fact


Expected = tuple[set[str], set[str] | None, str, Squashes]  # migrations, apps compared, source


def _expected_migrations(site: Site, records: Records) -> Expected | str:
    """The migrations the target release runs with: the ledger's record of its database's
    django_migrations rows (or, in an older record, its plan); else its tree's migration files,
    as `migrate` sees them (a squash stands for what it replaces), of the apps the database
    records now (an app with migration files but no row is not installed: a test app, a plugin
    left out), the packages' too (package_migrations.py; the repository's alone where a package
    could not be read); else why the identity cannot be checked."""
    target = records.need(Target)
    name = target.name
    if site.env.database.marker_table != backups.DJANGO_MIGRATIONS:
        return f"identity not checked: database.marker_table is not {backups.DJANGO_MIGRATIONS}"
    if target.migration_rows:  # exactly what a backup of that state holds
        return set(target.migration_rows), None, f"the ledger's record of {name}'s database", {}
    if target.migrations:
        return set(target.migrations), None, f"the ledger's record of {name}", {}
    host = site.first_host("app")
    tree, venv = Checkout(host, site.env.app.path), Venv(host, site.env.app)
    read = migration_history.trees(records, tree, venv, [target.commit])
    files = read.migrations[target.commit]
    if files is None:  # [] is a tree without migrations: its packages may have them
        return f"identity not checked: no ledger record of {name} and its tree is not fetched here"
    packages = package_migrations.packages(records, venv, site.env)
    source = f"{name}'s migration files (repository and packages)"
    if packages.unread:  # the repository's apps only, as without the packages' files
        source = (
            f"{name}'s migration files in the repository (packages unread: "
            + "; ".join(f"{what}: {why}" for what, why in packages.unread.items())
            + ")"
        )
    else:
        files = files + packages.target
    squashed = {**packages.squashed, **read.squashed}
    installed = {row.split(".")[0] for row in ledger.migration_rows(site) or []}
    apps = {m.split(".")[0] for m in files} & installed
    if not apps:
        return f"identity not checked: {name}'s migration files name no app its database records"
    own = migration_history.as_migrate_sees(files, squashed)
    return ({m for m in own if m.split(".")[0] in apps}, apps, source, squashed)


def _identity(host: Host, backup: backups.Backup, expected: Expected | str) -> str:
    if isinstance(expected, str):
        return expected
    migrations, apps, source, squashed = expected
    applied = backups.applied_in_backup(host, backup.path, backup.format)
    seen = None if applied is None else migration_history.as_migrate_sees(applied, squashed)
    problem = backups.identity_problem(seen, migrations, apps, source)
    if problem:
        raise backups.BackupRefused(f"the backup {backup.path} {problem}")
    return f"its {backups.DJANGO_MIGRATIONS} matches {source}"
