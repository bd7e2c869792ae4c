"""`rollbook sandbox up --profile wagtail`: a real third-party Django application, deployed beside
the demo app the way its users deploy it (environments/sandbox-wagtail.yaml; profile_site.py).

Wagtail comes from PyPI. Its deploy repository is the project `wagtail start` generates with
nothing of it rewritten, plus what a deployer adds: pinned requirements, a settings module reading
the app's own `.env` (django-environ: DATABASE_URL with the password), smoke tests. Two deploys
under lightweight tags: wagtail 7.0.10 (stable) and 7.2.3, the upgrade that is rolled back, with
its real migrations (and Wagtail's own squashed histories) and dependency changes. gunicorn runs
under the sandbox's supervisord; no proxy, no worker; the venv has no pytest. Pages and editors
are written before the backup, editors after the upgrade (which cannot publish a page: its
django-tasks 0.9 raises TypeError on Python 3.11, a real defect).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rollbook.sandbox.application import manage
from rollbook.sandbox.credentials import write_app_env
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.profile_site import Profile

STABLE, UPGRADE = "7.0.10", "7.2.3"
PINS = ("Django==5.2.19", "django-environ==0.12.0", "gunicorn==27.0.1", "psycopg[binary]==3.3.9")
# A lightweight tag is dated by its commit: months before the deploy, as in real repositories.
COMMITTED = {
    STABLE: datetime(2026, 6, 2, 9, 0, tzinfo=UTC),
    UPGRADE: datetime(2026, 10, 20, 9, 0, tzinfo=UTC),
}
PAGES_BEFORE_BACKUP, ROWS_AFTER_UPGRADE = 20, 5

STAGING_SETTINGS = '''"""Staging: the deploy's settings, from the app's .env (django-environ)."""

import environ

from .base import *  # noqa: F403

env = environ.Env()
environ.Env.read_env(os.path.join(BASE_DIR, ".env"))  # noqa: F405

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
STATIC_ROOT = env("STATIC_ROOT", default=STATIC_ROOT)  # noqa: F405
'''
SMOKE_TESTS = '''"""The deploy's smoke tests: the site's pages answer (SITE_URL)."""

import os
import urllib.request

BASE = os.environ.get("SITE_URL", "http://127.0.0.1:8000")


def get(path):
    with urllib.request.urlopen(BASE + path, timeout=10) as answer:
        return answer.status, answer.read().decode()


def test_the_home_page_answers():
    status, body = get("/")
    assert status == 200 and "<html" in body.lower()


def test_the_editors_can_log_in():
    status, body = get("/admin/login/")
    assert status == 200 and "wagtail" in body.lower()
'''
IGNORED = "/static/\n/media/\n.env\n__pycache__/\n*.pyc\n"
PAGES = """
from home.models import HomePage
home = HomePage.objects.get(depth=2)
for number in range({count}):
    page = home.add_child(instance=HomePage(title="{label} %d" % number,
                                            slug="{label}-%d" % number))
    page.save_revision().publish()
"""
# The upgrade cannot publish a page (its django-tasks 0.9 raises TypeError on this Python): what
# is written after it are editors' accounts.
EDITORS = """
from django.contrib.auth import get_user_model
for number in range({count}):
    get_user_model().objects.create_user("{label}-%d" % number, password=None)
"""


def _seed(site: Layout, script: str, label: str, count: int) -> None:
    manage(site, "shell", "-c", script.format(label=label, count=count))


def _generate(site: Layout, work: Path) -> None:
    """The project `wagtail start` generates, plus the deployer's settings, smoke tests and
    .gitignore."""
    site.shell.run([site.venv / "bin" / "wagtail", "start", "mysite", work])
    (work / "mysite" / "settings" / "staging.py").write_text(STAGING_SETTINGS)
    (work / "smoke").mkdir()
    (work / "smoke" / "test_site.py").write_text(SMOKE_TESTS)
    (work / ".gitignore").write_text(IGNORED)


def _seed_before(site: Layout) -> None:
    _seed(site, PAGES, "before-backup", PAGES_BEFORE_BACKUP)
    _seed(site, EDITORS, "before-backup", PAGES_BEFORE_BACKUP)


PROFILE = Profile(
    name="wagtail",
    package="wagtail",
    stable=STABLE,
    upgrade=UPGRADE,
    pins=PINS,
    committed=COMMITTED,
    generate=_generate,
    deploy_files=write_app_env,
    seed_before=_seed_before,
    seed_after=lambda site: _seed(site, EDITORS, "after-upgrade", ROWS_AFTER_UPGRADE),
)
