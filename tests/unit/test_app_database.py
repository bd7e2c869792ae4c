"""The app's own idea of its database, compared with the environment's `database:`."""

from rollbook.actions.database.app_database import mismatch
from rollbook.core.config import load_environment


def settings(**values: str) -> dict[str, str]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "iact_staging",
        "HOST": "localhost",
        "PORT": "",
        **values,
    }


def test_the_same_database_however_the_app_spells_it() -> None:
    env = load_environment("staging")  # localhost:5432/iact_staging
    assert mismatch(settings(), env) == []
    assert mismatch(settings(HOST="127.0.0.1", PORT="5432"), env) == []
    assert mismatch(settings(HOST=""), env) == []  # the local unix socket


def test_another_database_is_named() -> None:
    env = load_environment("staging")
    sqlite = settings(ENGINE="django.db.backends.sqlite3", NAME="/app/db.sqlite3", HOST="")
    assert mismatch(sqlite, env) == [
        "engine django.db.backends.sqlite3, not PostgreSQL",
        "database /app/db.sqlite3, not iact_staging",
    ]
    assert mismatch(settings(NAME="iact_prod", HOST="db.internal", PORT="6432"), env) == [
        "database iact_prod, not iact_staging",
        "host db.internal, not localhost",
        "port 6432, not 5432",
    ]
