"""The sandbox's secrets (secrets.env, generated once) and the app's untracked `.env`."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote

from rollbook.core.config import read_env_file
from rollbook.sandbox.layout import Layout

SECRET_KEY_VARIABLE = "DJANGO_SECRET_KEY"
RECEIVER = re.compile(r"json://127\.0\.0\.1:\d+/(incidents|people/[\w.-]+)")  # the sandbox's


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever its mode was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def ensure_secrets(layout: Layout) -> dict[str, str]:
    """The values of secrets.env, generating the missing ones (the DB password, SECRET_KEY)."""
    values = read_env_file(str(layout.secrets_file))
    missing = [
        name
        for name in (layout.env.database.password_env, SECRET_KEY_VARIABLE)
        if not values.get(name)
    ]
    receiver = f"json://127.0.0.1:{layout.ports.notify}"
    wanted = {target.url_env: f"{receiver}/incidents" for target in layout.env.notify} | {
        person.notify_env: f"{receiver}/people/{person.identity.partition('@')[0]}"
        for person in layout.env.people
        if person.notify_env
    }  # each person's own channel: a path of the same receiver
    channel = {  # unset, or the sandbox's receiver on a port sandbox.yaml no longer names
        variable: url
        for variable, url in wanted.items()
        if layout.ports.notify
        and values.get(variable) != url
        and (not values.get(variable) or RECEIVER.fullmatch(values[variable]))
    }
    if missing or channel:
        values.update({name: secrets.token_urlsafe(32) for name in missing} | channel)
        lines = "".join(f"{name}={value}\n" for name, value in values.items())
        write_private(layout.secrets_file, f"# Secrets of the rollbook sandbox.\n{lines}")
    return values


def database_password(layout: Layout) -> str:
    return ensure_secrets(layout)[layout.env.database.password_env]


def write_app_env(layout: Layout) -> None:
    """The deployed app's `.env`: where its database, broker and static files are."""
    values = ensure_secrets(layout)
    db = layout.env.database
    password = quote(values[db.password_env], safe="")
    settings = {
        "DATABASE_URL": f"postgresql://{db.user}:{password}@{db.host}:{db.port}/{db.name}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{layout.ports.redis}/0",
        "SECRET_KEY": values[SECRET_KEY_VARIABLE],
        "STATIC_ROOT": str(layout.static_root),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    lines = "".join(f"{name}={value}\n" for name, value in settings.items())
    write_private(layout.app_env_file, f"# Written by `rollbook sandbox`.\n{lines}")
