"""§4 — prerequisites: checked by prerequisites.feature and, shared, inside Etapa 1."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from rollbook.actions import database, release
from rollbook.actions.database import backups
from rollbook.core.config import NotifyTarget
from rollbook.core.errors import NotConfigured, StepFailed
from rollbook.core.resources import Checkout
from rollbook.core.run import Run
from rollbook.core.verdict import Verdict, judged


def newest_valid_backup(run: Run) -> backups.Backup:
    """§4.1: a backup younger than the maximum age, present and complete: the newest one taken
    before the deployed release was deployed (Paso 1.3's rule, the deploy checkout's reflog)."""
    host, db, app = run.site.first_host("db"), run.site.env.database, run.site.env.app
    tree = Checkout(run.site.first_host("app"), app.path)
    deployed_at, _ = release.deploy_time(tree, release.deployed_release(tree, app.tags))
    chosen = backups.choose_backup(host, db, run.incident.options.backup, deployed_at)
    backup = backups.check_backup(host, db, chosen)  # §4.1 asks for a recent one, named or not
    run.incident.note("backup_available", path=backup.path, age=backup.age, sha256=backup.sha256)
    limit = db.max_backup_age
    procedure = (
        "" if limit == DOCUMENT_AGE else f"; the procedure's §4.1 says < {hours(DOCUMENT_AGE)}"
    )
    run.incident.say(
        f"newest backup: {backup.path}, {hours(backup.age)} old "
        f"(database.max_backup_age: {hours(limit)}{procedure})"
    )
    return backup


DOCUMENT_AGE = 86400.0  # §4.1: "Backups de base de datos disponibles (< 24h)"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def backup_usable(newest: backups.Backup, limit: float) -> Verdict:
    """§4.1: the newest valid backup is younger than database.max_backup_age, and not empty."""
    problems = []
    if newest.age >= limit:
        age, most = hours(newest.age), hours(limit)
        problems.append(f"{newest.path} is {age} old: over database.max_backup_age ({most})")
    if newest.size <= 0:
        problems.append(f"{newest.path} is empty")
    return judged(problems)


def room_for(space: Mapping[str, int]) -> Verdict:
    """§4.1: the backups folder's free bytes against the pre-rollback dump's (the database's
    size)."""
    free, needed = space["free_bytes"], space["needed_bytes"]
    if free >= needed:
        return judged([])
    return judged(
        [f"{free / 2**20:.0f} MiB free, the pre-rollback dump needs {needed / 2**20:.0f} MiB"]
    )


def backups_folder_ready(run: Run) -> dict[str, int]:
    """§4.1: the backups folder is readable and writable, with room for the pre-rollback dump."""
    host = run.site.first_host("db")
    folder = run.site.env.database.backups
    usable = host.run(
        ["test", "-d", folder, "-a", "-r", folder, "-a", "-w", folder], mutating=False, check=False
    )
    if not usable.ok:
        raise StepFailed(f"{host.spec}: {folder} is not a readable and writable folder")
    out = host.run(["df", "-B1", "--output=avail", folder], mutating=False).stdout
    free = int(out.split()[-1])
    size_sql = f"SELECT pg_database_size({database.literal(run.site.env.database.name)})"
    needed = int(database.psql(run.site.postgres(), size_sql).strip())
    fact = run.incident.note("backup_space", folder=folder, free_bytes=free, needed_bytes=needed)
    if free < needed:
        raise StepFailed(
            f"{host.spec}: {folder} has {free / 2**20:.0f} MiB free, the pre-rollback dump "
            f"needs about {needed / 2**20:.0f} MiB (the database's size): free space first"
        )
    return fact


def database_problems(run: Run) -> list[str]:
    """§4.1: what stops the credentials from doing Paso 4.3's work — they log in (psql fails
    otherwise), the role may create the database Paso 4.3 drops, and with the swap strategy owns
    it. [] when nothing does."""
    role, name = run.site.env.database.user, run.site.env.database.name
    problems = []
    can_create = database.psql(
        run.site.postgres(),
        "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user",
    ).strip()
    if can_create != "t":
        problems.append(
            f"role {role} cannot create databases: Paso 4.3 would drop {name} and fail to "
            f"create it again. Grant it first: ALTER ROLE {role} CREATEDB"
        )
    if run.site.env.database.restore_strategy == "swap":
        owner = database.owner(run.site.postgres(), name)
        if owner != role:
            problems.append(
                f"restore_strategy swap renames {name}, which only its owner may do: the owner "
                f"is {owner or 'nobody'}, not {role}. Use restore_strategy: recreate, or ALTER "
                f"DATABASE {database.ident(name)} OWNER TO {role}"
            )
    return problems


def checks_configured(run: Run) -> list[str]:
    """Where approval is required, every check has something to look at: an empty setting would
    leave a criterion that cannot fail. Elsewhere, the empty ones are named (their Pasos are
    reported "no configurado")."""
    empty = run.site.env.unconfigured_checks()
    if empty and run.site.env.approval == "required":
        raise StepFailed(
            f"environment {run.site.env.name} requires approval, yet these checks are not "
            f"configured and could not fail: {', '.join(empty)} — set them in {run.site.env.source}"
        )
    if empty:
        run.incident.say(f"WARNING: no configurado en {run.site.env.name}: {', '.join(empty)}")
    return empty


def channel_states(run: Run) -> dict[str, str]:
    """§4.2: each notification channel: "reachable" (its host answers on its port), "set" (a
    URL without a host), or what is wrong with it."""
    if not run.site.env.notify:
        raise NotConfigured("notify")
    found: dict[str, str] = {}
    for target in run.site.env.notify:
        url = run.site.secret_or_none(target.url_env)
        if url is None:
            found[target.url_env] = f"{target.url_env} is not set: export it"
            continue
        parts = urlsplit(url)
        found[target.url_env] = "set"
        if parts.hostname:
            port = parts.port or (443 if parts.scheme.endswith("s") else 80)
            try:
                socket.create_connection((parts.hostname, port), timeout=5).close()
                found[target.url_env] = "reachable"
            except OSError as exc:
                found[target.url_env] = (
                    f"{target.url_env}: {parts.hostname}:{port} unreachable ({exc.strerror})"
                )
    run.incident.note("notification_channels", channels=found)
    return found


def channels_usable(channels: Mapping[str, str], notify: Sequence[NotifyTarget]) -> Verdict:
    """§4.2: each channel of the environment checked, and set or reachable."""
    wrong = [said for said in channels.values() if said not in ("reachable", "set")]
    unchecked = [t.url_env for t in notify if t.url_env not in channels]
    return judged(wrong + [f"{name} not checked" for name in unchecked])
