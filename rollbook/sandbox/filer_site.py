"""`rollbook sandbox up --profile filer`: a real third-party Django application shaped unlike the
Wagtail profile (environments/sandbox-filer.yaml; profile_site.py).

django-filer comes from PyPI; its migration history is squashed (0001_squashed_0016 replaces
0001 to 0016: a database migrated by it records the squash *and* every name it replaces). The deploy
repository is the project `django-admin startproject` generates, plus what a deployer adds: the
apps in settings.py, which ends by importing `local_settings.py` — the deploy's own file, kept
out of git, holding the database password, the secret key and the RQ queue — and a small `jobs`
app: an RQ task, a `rq_roundtrip` command sending a job through the queue, and /release/, the
versions the served code runs. Two deploys under lightweight tags: django-filer 3.3.1 (stable)
and 3.4.4, the upgrade rolled back (its migration filer.0018 and svglib 2 → 1.5). gunicorn and an
RQ worker (`manage.py rqworker`, django-rq) run under the sandbox's supervisord; no proxy, no
celery. Folders are written before the backup and after the upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rollbook.sandbox.application import manage
from rollbook.sandbox.credentials import SECRET_KEY_VARIABLE, ensure_secrets, write_private
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.profile_site import Profile

STABLE, UPGRADE = "3.3.1", "3.4.4"
PINS = ("Django==5.2.19", "django-rq==4.2.0", "gunicorn==27.0.1", "psycopg[binary]==3.3.9")
COMMITTED = {
    STABLE: datetime(2026, 5, 12, 9, 0, tzinfo=UTC),
    UPGRADE: datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
}
FOLDERS_BEFORE_BACKUP, FOLDERS_AFTER_UPGRADE = 20, 5
REDIS_DATABASE = 3  # the sandbox's redis, a database of the profile's own
LOCAL_SETTINGS = "mysite/local_settings.py"

# appended to the generated settings.py: what a deployer adds
SETTINGS = """

# The deploy's additions: the apps, then the deploy's own settings (out of git).
INSTALLED_APPS += ["easy_thumbnails", "filer", "django_rq", "jobs"]

from .local_settings import *  # noqa: E402, F403
"""
URLS = """

from jobs.views import release  # noqa: E402

urlpatterns.append(path("release/", release))
"""
TASKS = '''"""The jobs the RQ worker runs."""

import filer


def ping():
    return f"pong from django-filer {filer.__version__}"
'''
VIEWS = '''"""What the served code runs: the versions of the release."""

import django
import filer
from django.http import JsonResponse


def release(request):
    return JsonResponse({"django-filer": filer.__version__, "django": django.get_version()})
'''
ROUNDTRIP = '''"""Send a job through the default RQ queue and wait until a worker ran it."""

import time

import django_rq
from django.core.management.base import BaseCommand, CommandError

from jobs.tasks import ping

WAIT = 60


class Command(BaseCommand):
    help = "Send a job through the default RQ queue; print its result once a worker ran it."

    def handle(self, *args, **options):
        job = django_rq.enqueue(ping)
        deadline = time.monotonic() + WAIT
        status = job.get_status(refresh=True)
        while status not in ("finished", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            status = job.get_status(refresh=True)
        if status == "failed":
            raise CommandError(f"rq job {job.id} failed: {job.latest_result().exc_string}")
        if status != "finished":
            raise CommandError(f"rq job {job.id} not run by a worker within {WAIT} s: {status}")
        self.stdout.write(f"rq job {job.id}: {job.return_value()}")
'''
IGNORED = "/static/\n/media/\nmysite/local_settings.py\n__pycache__/\n*.pyc\n"
FOLDERS = """
from filer.models import Folder
for number in range({count}):
    Folder.objects.create(name="{label}-%d" % number)
"""


def _generate(site: Layout, work: Path) -> None:
    """The project `django-admin startproject` generates, plus the deployer's apps, settings
    import, jobs app and .gitignore."""
    site.shell.run([site.venv / "bin" / "django-admin", "startproject", "mysite", work])
    with (work / "mysite" / "settings.py").open("a") as settings:
        settings.write(SETTINGS)
    with (work / "mysite" / "urls.py").open("a") as urls:
        urls.write(URLS)
    commands = work / "jobs" / "management" / "commands"
    commands.mkdir(parents=True)
    for folder in (work / "jobs", commands.parent, commands):
        (folder / "__init__.py").write_text("")
    (work / "jobs" / "tasks.py").write_text(TASKS)
    (work / "jobs" / "views.py").write_text(VIEWS)
    (commands / "rq_roundtrip.py").write_text(ROUNDTRIP)
    (work / ".gitignore").write_text(IGNORED)


def write_local_settings(site: Layout) -> None:
    """The deploy's own settings file beside the checkout's (out of git): the database with its
    password, the secret key, the static root, the RQ queue."""
    values, db = ensure_secrets(site), site.env.database
    redis = f"redis://127.0.0.1:{site.ports.redis}/{REDIS_DATABASE}"
    write_private(
        site.app / LOCAL_SETTINGS,
        '"""Written by the deploy (`rollbook sandbox`), never committed."""\n\n'
        f"SECRET_KEY = {values[SECRET_KEY_VARIABLE]!r}\nDEBUG = False\n"
        'ALLOWED_HOSTS = ["127.0.0.1", "localhost"]\n'
        f"STATIC_ROOT = {str(site.static_root)!r}\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
        f"'HOST': {db.host!r}, 'PORT': {db.port}, 'NAME': {db.name!r}, 'USER': {db.user!r}, "
        f"'PASSWORD': {values[db.password_env]!r}}}}}\n"
        f"RQ_QUEUES = {{'default': {{'URL': {redis!r}}}}}\n",
    )


def _folders(site: Layout, label: str, count: int) -> None:
    manage(site, "shell", "-c", FOLDERS.format(label=label, count=count))


PROFILE = Profile(
    name="filer",
    package="django-filer",
    stable=STABLE,
    upgrade=UPGRADE,
    pins=PINS,
    committed=COMMITTED,
    generate=_generate,
    deploy_files=write_local_settings,
    seed_before=lambda site: _folders(site, "before-backup", FOLDERS_BEFORE_BACKUP),
    seed_after=lambda site: _folders(site, "after-upgrade", FOLDERS_AFTER_UPGRADE),
)
