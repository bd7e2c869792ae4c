"""A second real third-party application, shaped unlike the Wagtail profile (`rollbook sandbox up
--profile filer`): django-filer from PyPI with its squashed migration history, a project whose
settings import a file the deploy keeps out of git (the database password, the RQ queue), and an
RQ worker whose readiness is a real job. Rolled back on a site's first day (no ledger record: the
target, the backup and the migrations to undo worked out from tags, backups and the migration
files of the repository and the packages, as Django's migrate sees them) and with its record."""

import json
import pwd
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollbook import sandbox
from rollbook.sandbox import filer_site, profile_site
from rollbook.sandbox.layout import load_layout
from tests.e2e import compatibility
from tests.e2e.sandbox_state import (
    INCIDENT,
    connect,
    dump,
    env,
    freeze,
    git,
    ledger_record,
    migration_rows,
    run_feature,
)
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e
SITE = "sandbox-filer"
STACK = (
    "django-filer from PyPI, upgrade 3.3.1 → 3.4.4: squashed migrations, settings out of git, "
    "an RQ worker"
)
FILER = [*(a for a in INCIDENT if not a.startswith("--env=")), f"--env={SITE}"]
COMPLETED = "ROLLBACK COMPLETADO"
STABLE_TAG = filer_site.PROFILE.tag(filer_site.STABLE)


@pytest.fixture
def filer(sandbox_up: None) -> Iterator[dict[str, Any]]:
    """The profile in its start state (the upgrade deployed); the stable release's ledger entry."""
    sandbox.up(profile="filer")
    yield ledger_record(SITE, STABLE_TAG)
    profile_site.stop(load_layout(), filer_site.PROFILE)


def served_release() -> str:
    """The django-filer the served code runs (the deploy's /release/ view)."""
    with urllib.request.urlopen(env(SITE).health.critical["release"], timeout=10) as answer:
        return str(json.loads(answer.read())["django-filer"])


def assert_rolled_back(done: Any, stable: dict[str, Any]) -> None:
    """The stable release runs again: code, rows, the web's and the worker's answers (a real job
    in Paso 5.2); the deploy's settings file, out of git, untouched."""
    assert done.outcome == COMPLETED, dump(done)
    assert git("rev-parse", "HEAD", environment=SITE) == stable["commit"]
    assert f"django-filer=={filer_site.STABLE}" in freeze(SITE)
    assert migration_rows(SITE) == stable["migration_rows"]
    assert served_release() == filer_site.STABLE
    [checked] = [
        e["value"]["hosts"]["local://"]
        for e in done.journal()
        if e["event"] == "fact" and e["key"] == "workers_checked" and e["paso"] == "5.2"
    ]
    assert f"pong from django-filer {filer_site.STABLE}" in checked, checked
    # the folders made after the upgrade (after the nightly backup) are kept by the default way
    # back, least_loss, and none is counted lost
    assert sum(done.facts()["data_loss"]["tables"].values()) == 0, done.facts()["data_loss"]
    with connect(environment=SITE) as conn:
        kept = conn.execute("SELECT count(*) FROM filer_folder WHERE name LIKE 'after-upgrade-%'")
        assert kept.fetchone() == (filer_site.FOLDERS_AFTER_UPGRADE,)
    local = Path(env(SITE).app.path) / filer_site.LOCAL_SETTINGS
    assert local.is_file() and "PASSWORD" in local.read_text()
    ignored = git(
        "status", "--porcelain", "--ignored", "--", filer_site.LOCAL_SETTINGS, environment=SITE
    )
    assert ignored == f"!! {filer_site.LOCAL_SETTINGS}", ignored
    assert_run_as_the_app_user(done)


def assert_run_as_the_app_user(done: Any) -> None:
    """The checkout and the venv belong to a no-login user (app.user) and rollbook logs in as
    root: every git and venv command ran as that user, and no file of the checkout (its static
    root inside), the venv or rollbook's folder beside them is left another user's."""
    app = env(SITE).app
    assert app.user and pwd.getpwnam(app.user).pw_shell == "/usr/sbin/nologin"
    ran = [e for e in done.journal() if e["event"] == "command"]
    own = [e for e in ran if e["argv"][0] == "git" or e["argv"][0].startswith(f"{app.venv}/")]
    assert len(own) > 10 and all(
        e["line"].startswith(f"runuser -u {app.user} -- sh -c ") for e in own
    ), [e["line"] for e in own if not e["line"].startswith("runuser")][:3]
    folders = [app.path, app.venv, str(Path(env(SITE).ledger_file()).parent)]
    foreign = subprocess.run(
        ["find", *folders, "!", "-user", app.user, "-print"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not foreign, foreign.splitlines()[:5]


def test_a_squashed_history_rolled_back_on_a_sites_first_day(
    filer: dict[str, Any], tmp_path: Path
) -> None:
    stable = filer
    Path(env(SITE).ledger_file()).unlink()
    upgrade_rows = set(migration_rows(SITE))
    assert served_release() == filer_site.UPGRADE
    plan = run_feature(tmp_path / "plan", *FILER, "--dry-run")
    compatibility.record(STACK, plan, "dry-run without a ledger record", "PLAN — SIN CAMBIOS")
    assert plan.outcome == "PLAN — SIN CAMBIOS", dump(plan)
    facts = plan.facts()
    assert facts["target"]["tag"] == STABLE_TAG and facts["target"]["ledger_status"] is None
    assert facts["backup"]["path"] == str(newest_nightly(SITE)), facts["backup"]
    assert "matches deploy/filer-3.3.1's migration files (repository and packages)" in plan.output
    # the database recorded the squash and every name it replaces: one history, not 17 extra
    squashes = facts["package_migrations"]["squashed"]
    [squash] = [name for name in squashes if name.startswith("filer.0001_squashed_0016")]
    replaced = {name for names in squashes.values() for name in names}
    assert {squash, *squashes[squash]} <= upgrade_rows and len(squashes[squash]) == 16, squashes
    migrations = facts["migration_plan"]
    assert set(migrations["extra"]) == upgrade_rows - set(stable["migration_rows"]), migrations
    kept = [m.split(".", 1)[1] for m in stable["migrations"] if m.startswith("filer.")]
    assert migrations["targets"] == [["filer", kept[-1]]], (migrations, kept[-3:])
    assert f"filer.{kept[-1]}" not in replaced
    upgrade = freeze(SITE)
    done = run_feature(tmp_path / "run", *FILER)
    compatibility.record(STACK, done, "rollback without a ledger record", COMPLETED)
    assert_rolled_back(done, stable)
    # without a record of the stable set, the target's pins are installed and nothing it does
    # not pin moves (svglib stays at the upgrade's 1.5.1), as the record says
    pins = {
        line.split("==")[0].split("[")[0]: line.split("==")[1]
        for line in filer_site.PROFILE.requirements(filer_site.STABLE).split()
    }
    now = {line.split("==")[0]: line for line in freeze(SITE)}
    assert all(now[name] == f"{name}=={version}" for name, version in pins.items()), now
    assert {line for name, line in now.items() if name not in pins} <= set(upgrade), now
    assert (
        "held at its installed version" in done.facts()["packages_installed"]["hosts"]["local://"]
    )


def test_a_squashed_history_rolled_back_with_its_ledger_record(
    filer: dict[str, Any], tmp_path: Path
) -> None:
    done = run_feature(tmp_path, *FILER)
    compatibility.record(STACK, done, "rollback", COMPLETED)
    assert done.facts()["target"]["ledger_status"] == "validated", dump(done)
    assert_rolled_back(done, filer)
    assert freeze(SITE) == sorted(filer["packages"])  # the recorded set, exactly
