"""`rollbook sandbox up --profile wagtail`: a real third-party Django application, deployed beside
the demo app the way its users deploy it (environments/sandbox-wagtail.yaml).

Wagtail comes from PyPI. Its deploy repository is the project `wagtail start` generates with
nothing of it rewritten, plus what a deployer adds: pinned requirements, a settings module reading
the app's own `.env` (django-environ: DATABASE_URL with the password), smoke tests. Two deploys
under lightweight tags: wagtail 7.0.10 (stable) and 7.2.3, the upgrade that is rolled back, with
its real migrations and dependency changes. gunicorn runs under the sandbox's supervisord; no
proxy, no worker; the venv has no pytest.

Provisioned once (the packages downloaded into the profile's wheelhouse), then brought to its
start state at every `up --profile wagtail`: the upgrade deployed 1 h ago over the stable release
deployed 3 h ago, the nightly backup of the stable state 2 h ago (and one too old); pages and
editors written before the backup, editors after the upgrade (which cannot publish a page: its
django-tasks 0.9 raises TypeError on Python 3.11, a real defect). The stable release is in the
ledger as validated because `pytest features/validation.feature --record-release` said so at
provisioning, as a team would.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rollbook.sandbox import appvenv, backups, faults, history, supervisor
from rollbook.sandbox.application import app_environment, manage
from rollbook.sandbox.credentials import database_password, write_app_env
from rollbook.sandbox.layout import REPO, Layout, load_profile_layout
from rollbook.sandbox.postgres import Cluster
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.shell import SandboxError, say, wait_for
from rollbook.sandbox.timeline import Timeline
from rollbook.sandbox.wheelhouse import ensure_wheelhouse

PROFILE = "wagtail"
STABLE, UPGRADE = "7.0.10", "7.2.3"
PINS = ("Django==5.2.19", "django-environ==0.12.0", "gunicorn==27.0.1", "psycopg[binary]==3.3.9")
# A lightweight tag is dated by its commit: months before the deploy, as in real repositories.
COMMITTED = {
    STABLE: datetime(2026, 6, 2, 9, 0, tzinfo=UTC),
    UPGRADE: datetime(2026, 10, 20, 9, 0, tzinfo=UTC),
}
PAGES_BEFORE_BACKUP, ROWS_AFTER_UPGRADE = 20, 5
TEMPLATE = "rollbook_wagtail_start"
LEDGER_COPY = "ledger.jsonl"  # the ledger as provisioning left it (the stable release validated)
PROVISIONED_MARKER = "provisioned"

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


def tag(version: str) -> str:
    return f"deploy/wagtail-{version}"


def requirements(version: str) -> str:
    return "".join(f"{pin}\n" for pin in (*PINS, f"wagtail=={version}"))


def _seed(site: Layout, script: str, label: str, count: int) -> None:
    manage(site, "shell", "-c", script.format(label=label, count=count))


def _publish(site: Layout) -> None:
    """The deploy repository on a bare origin: the generated project at each pinned release."""
    say(f"generating the Wagtail project with `wagtail start` ({STABLE}) ...")
    site.origin.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=site.origin.parent) as scratch:
        work = Path(scratch) / "site"
        work.mkdir()
        site.shell.run([site.venv / "bin" / "wagtail", "start", "mysite", work])
        (work / "mysite" / "settings" / "staging.py").write_text(STAGING_SETTINGS)
        (work / "smoke").mkdir()
        (work / "smoke" / "test_site.py").write_text(SMOKE_TESTS)
        (work / ".gitignore").write_text(IGNORED)
        history.git(site, work, "init", "--quiet", "--initial-branch=main")
        for version in (STABLE, UPGRADE):
            (work / "requirements.txt").write_text(requirements(version))
            history.git(site, work, "add", "--all")
            history.git(site, work, "commit", "--quiet", "-m", f"Deploy wagtail {version}",
                        moment=COMMITTED[version])  # fmt: skip
            history.git(site, work, "tag", tag(version))  # lightweight, like most deploy tags
        shutil.rmtree(site.origin, ignore_errors=True)
        history.git(site, work, "init", "--quiet", "--bare", "--initial-branch=main", site.origin)
        history.git(site, work, "push", "--quiet", "--mirror", site.origin)


def _record_stable_release(sandbox: Layout, site: Layout) -> None:
    """What a team does after a deploy works: validation.feature with --record-release."""
    say(f"validating {tag(STABLE)} and recording it in the ledger (validation.feature) ...")
    _start(sandbox, site)
    reports = site.root / "reports"
    done = site.shell.run(
        [sys.executable, "-m", "pytest", REPO / "features" / "validation.feature",
         f"--env=sandbox-{PROFILE}", "--record-release", f"--report-dir={reports}",
         "-p", "no:cacheprovider", "-q"],
        cwd=REPO, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SandboxError(
            f"validation.feature failed on the stable Wagtail release: see {site.shell.log}"
        )
    shutil.copyfile(site.env.ledger_file(), site.state / LEDGER_COPY)
    supervisor.stop_running(sandbox, [_service(site)])


def _provision(sandbox: Layout, site: Layout, cluster: Cluster) -> None:
    say(f"provisioning the {PROFILE} profile (the first time downloads Wagtail from PyPI) ...")
    site.state.mkdir(parents=True, exist_ok=True)
    supervisor.stop_running(sandbox, [_service(site)])
    ensure_wheelhouse(site, [requirements(STABLE), requirements(UPGRADE)])
    appvenv.ensure_venv(site)
    bootstrap = site.state / "requirements-stable.txt"
    bootstrap.write_text(requirements(STABLE))
    site.shell.run([site.venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-r",
                    bootstrap], env=app_environment(site))  # fmt: skip
    _publish(site)
    db = site.env.database
    cluster.reload()  # the app's role logs in over TCP like the demo app's
    cluster.ensure_role_and_database(database_password(site), db.user, db.name)
    cluster.empty_database(db.name, db.user)
    Path(site.env.ledger_file()).unlink(missing_ok=True)
    history.deploy(site, tag(STABLE))
    write_app_env(site)
    appvenv.install_requirements(site)
    manage(site, "migrate", "--noinput")
    _seed(site, PAGES, "before-backup", PAGES_BEFORE_BACKUP)
    _seed(site, EDITORS, "before-backup", PAGES_BEFORE_BACKUP)
    manage(site, "collectstatic", "--noinput", "--clear")
    backups.dump_stable_state(site)
    _record_stable_release(sandbox, site)
    say(f"deploying the upgrade {tag(UPGRADE)} and writing editors after it ...")
    history.deploy(site, tag(UPGRADE))
    appvenv.install_requirements(site)
    manage(site, "migrate", "--noinput")
    _seed(site, EDITORS, "after-upgrade", ROWS_AFTER_UPGRADE)
    appvenv.save_snapshot(site)
    cluster.save_template(db.name, TEMPLATE)
    (site.state / PROVISIONED_MARKER).write_text("")


def _is_provisioned(site: Layout, cluster: Cluster) -> bool:
    return all(
        (
            (site.state / PROVISIONED_MARKER).is_file(),
            (site.state / LEDGER_COPY).is_file(),
            backups.nightly_dump(site).is_file(),
            cluster.has_template(TEMPLATE),
        )
    )


def _service(site: Layout) -> str:
    return site.env.services.app[0]


def _start(sandbox: Layout, site: Layout) -> None:
    supervisor.start_programs(sandbox, [_service(site)])
    url = site.env.health.url
    wait_for(lambda: http_status(url) == 200, f"Wagtail answering 200 at {url}", 60,
             f": see {site.gunicorn_log}")  # fmt: skip


def _apply_start_state(sandbox: Layout, site: Layout, cluster: Cluster) -> None:
    timeline = Timeline.starting_now()
    supervisor.stop_running(sandbox, [_service(site)])
    faults.clear_faults(site)  # a lock a failed run left
    backups.lay_out_backups(site, timeline)
    say(f"deploying {tag(UPGRADE)} (stable: {tag(STABLE)}) ...")
    history.deploy(site, tag(STABLE), timeline.stable_deploy)
    history.deploy(site, tag(UPGRADE), timeline.defective_deploy)
    # the ledger as provisioning left it; the runs' snapshots and held constraints go
    ledger = Path(site.env.ledger_file())
    shutil.rmtree(ledger.parent, ignore_errors=True)
    ledger.parent.mkdir(parents=True)
    shutil.copyfile(site.state / LEDGER_COPY, ledger)
    write_app_env(site)
    db = site.env.database
    say(f"restoring {db.name} to the start state ...")
    cluster.restore_from_template(db.name, db.user, TEMPLATE)
    appvenv.restore_venv(site)
    manage(site, "collectstatic", "--noinput", "--clear")
    _start(sandbox, site)


def up(sandbox: Layout, cluster: Cluster) -> None:
    """Provision the profile the first time; bring it to its start state; its site answering."""
    site = load_profile_layout(PROFILE)
    if not _is_provisioned(site, cluster):
        _provision(sandbox, site, cluster)
    _apply_start_state(sandbox, site, cluster)
    say(f"up: Wagtail {UPGRADE} on {site.env.health.url} — roll back with --env=sandbox-{PROFILE}")


def stop(sandbox: Layout) -> None:
    """Stop the profile's app server (the sandbox's supervisord keeps running)."""
    supervisor.stop_running(sandbox, [_service(load_profile_layout(PROFILE))])
