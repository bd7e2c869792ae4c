"""Configuration from the process environment, with defaults from an untracked `.env` file.

The `.env` file holds simple `KEY=VALUE` lines; blank lines and lines starting with `#` are
ignored, and a value may be wrapped in single or double quotes. A key already present in the
process environment always wins over the file.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})


def read_env_file(path: Path) -> dict[str, str]:
    """Return the KEY=VALUE pairs of an env file, or an empty dict when it does not exist."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in {"'", '"'}:
            value = value[1:-1]
        if key:
            values[key] = value
    return values


def load_env_file(path: Path, environ: MutableMapping[str, str] | None = None) -> None:
    """Copy the values of an env file into the environment, without overriding existing keys."""
    target = os.environ if environ is None else environ
    for key, value in read_env_file(path).items():
        target.setdefault(key, value)


def env_str(name: str, default: str | None = None) -> str:
    """Return an environment variable; raise ImproperlyConfigured when it is unset and required."""
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Set {name} in the environment or in the app's .env file.")
        return default
    return value


def env_list(name: str, default: str) -> list[str]:
    """Return a comma-separated environment variable as a list of non-empty, stripped items."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def parse_database_url(url: str) -> dict[str, Any]:
    """Turn postgresql://user:password@host:port/name into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(f"Unsupported DATABASE_URL scheme: {parts.scheme!r}")
    hostinfo = parts.netloc.rpartition("@")[2]
    if hostinfo.startswith("["):
        host = hostinfo[1 : hostinfo.find("]")]
    else:
        host = hostinfo.partition(":")[0]
    try:
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"Invalid port in DATABASE_URL: {exc}") from exc
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL must name a database.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(host),
        "PORT": str(port) if port else "",
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"connect_timeout": 5},
    }
