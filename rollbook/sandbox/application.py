"""Running the deployed Django app's own commands (manage.py) the way its servers run."""

from __future__ import annotations

import os

from rollbook.sandbox.layout import Layout

# The app reads these from the process environment before its `.env`: a value left in the
# caller's shell must not point the sandbox at another database or broker.
APP_VARIABLES = frozenset(
    {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "STATIC_ROOT", "ALLOWED_HOSTS"}
)
# Nor may another Python's settings, or pip's: PIP_FIND_LINKS would override the venv's pip.conf.
FOREIGN_PYTHON = frozenset({"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"})


def app_environment(layout: Layout) -> dict[str, str]:
    """The caller's environment without the app's or pip's settings, plus the YAML's app.env."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in APP_VARIABLES | FOREIGN_PYTHON and not name.startswith("PIP_")
    }
    environment.update(layout.env.app.env)
    return environment


def manage(layout: Layout, *args: str) -> str:
    """`venv/bin/python manage.py ARGS` in the checkout; its output."""
    return layout.shell.run(
        [layout.venv / "bin" / "python", layout.env.app.manage, *args],
        cwd=layout.app,
        env=app_environment(layout),
    ).stdout
