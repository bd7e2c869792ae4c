"""A real third-party Django application — Wagtail, from PyPI — rolled back end to end and through
§9 (`rollbook sandbox up --profile wagtail`). Nothing of it was written here: its upgrade's
migrations and dependency changes live in site-packages, its squashed migrations leave rows the
plan does not list, its deploy tags are lightweight, its settings read DATABASE_URL (with the
password) from the app's own .env, it has no proxy, no worker, and no pytest in its venv."""

import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from rollbook import sandbox
from rollbook.sandbox import profile_site, wagtail_site
from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.variant import write_variant
from tests.e2e import compatibility
from tests.e2e.sandbox_state import (
    INCIDENT,
    connect,
    dump,
    env,
    fast,
    fingerprints,
    freeze,
    git,
    ledger_record,
    migration_rows,
    run_feature,
    stale_processes,
)
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e
SITE = "sandbox-wagtail"
STACK = "Wagtail from PyPI, upgrade 7.0.10 → 7.2.3: lightweight tags, app .env, no worker"
WAGTAIL = [*(a for a in INCIDENT if not a.startswith("--env=")), f"--env={SITE}"]
COMPLETED, RESTORED = "ROLLBACK COMPLETADO", "FALLIDO — ESTADO PREVIO RESTAURADO"


@pytest.fixture
def wagtail(sandbox_up: None) -> Iterator[None]:
    """The profile in its start state: the upgrade deployed, the stable release validated."""
    sandbox.up(profile="wagtail")
    yield
    profile_site.stop(load_layout(), wagtail_site.PROFILE)


def stable_record() -> dict[str, Any]:
    """The ledger's entry for the stable release, written by validation.feature at provisioning."""
    return ledger_record(SITE, wagtail_site.PROFILE.tag(wagtail_site.STABLE))


def editors_after_upgrade() -> int:
    with connect(environment=SITE) as conn:
        query = "SELECT count(*) FROM auth_user WHERE username LIKE 'after-upgrade-%'"
        return conn.execute(query).fetchone()[0]  # type: ignore[index]


def version(package: str) -> str:
    return next(line.split("==")[1] for line in freeze(SITE) if line.startswith(f"{package}=="))


def test_a_third_party_upgrade_is_rolled_back(wagtail: None, tmp_path: Path) -> None:
    stable = stable_record()
    upgrade = release_marks(env(SITE).health.critical["admin"])
    done = run_feature(tmp_path, *WAGTAIL)
    compatibility.record(STACK, done, "rollback", COMPLETED)
    assert done.outcome == COMPLETED, dump(done)
    facts = done.facts()
    # Paso 1.2 saw the upgrade's migrations, which live in site-packages, not in the repository
    assert facts["migration_plan"]["kind"] == "reversible", facts["migration_plan"]
    assert "wagtailcore.0095_groupsitepermission" in facts["migration_plan"]["extra"]
    assert git("rev-parse", "HEAD", environment=SITE) == stable["commit"]
    assert freeze(SITE) == sorted(stable["packages"])  # the exact set, packaging tools included
    assert {"pip", "setuptools"} <= {line.split("==")[0] for line in freeze(SITE)}
    assert version("wagtail") == wagtail_site.STABLE
    # the restored rows: squashed migrations and the ones they replace, as the backup holds them
    assert migration_rows(SITE) == stable["migration_rows"]
    # the default way back, least_loss, reverses the upgrade's reversible migrations: the editors
    # added after the upgrade (after the nightly backup) are kept, nothing counted lost
    assert facts["database_path"]["path"] == "migrate", facts["database_path"]
    assert editors_after_upgrade() == wagtail_site.ROWS_AFTER_UPGRADE
    assert sum(facts["data_loss"]["tables"].values()) == 0, facts["data_loss"]
    assert facts["smoke"]["smoke_tests"]["runner"] == "operator"
    assert http_status(env(SITE).health.url) == 200
    # what the §9 test below relies on: the admin's static files tell the two releases apart
    assert release_marks(env(SITE).health.critical["admin"]) not in (upgrade, set())


def test_a_third_party_upgrade_recovered_as_it_was(wagtail: None, tmp_path: Path) -> None:
    """A leftover process takes the site's port while it is stopped: Paso 5.1 fails, §9 runs."""
    e = env(SITE)
    port = urlparse(e.health.url).port
    head, packages = git("rev-parse", "HEAD", environment=SITE), freeze(SITE)
    data = fingerprints(environment=SITE)
    squatter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rollbook.sandbox.squatter",
            "--port",
            str(port),
            "--until-head",
            head,
            "--checkout",
            e.app.path,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:  # Paso 3.2 asks pip first: the procedure's forced reinstall is the first test's
        done = run_feature(tmp_path, *WAGTAIL, extra_env=wagtail_variant(tmp_path, fast))
    finally:
        squatter.terminate()
        squatter.wait(timeout=30)
    compatibility.record(STACK, done, "Paso 5.1 fails (port held): §9", RESTORED)
    assert done.outcome == RESTORED, dump(done)
    assert done.pasos()["5.1"] == "failed"
    assert git("rev-parse", "HEAD", environment=SITE) == head
    assert freeze(SITE) == packages and version("wagtail") == wagtail_site.UPGRADE
    assert fingerprints(environment=SITE) == data
    assert editors_after_upgrade() == wagtail_site.ROWS_AFTER_UPGRADE
    assert http_status(e.health.url) == 200


def wagtail_variant(parent: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    """The profile's environment file, changed by `change`, where the engine reads it."""
    variant = write_variant(parent, None, extending=(SITE,))
    path = parent / "environments" / f"{SITE}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    return variant


def release_marks(url: str) -> set[str]:
    """What tells the served Wagtail release apart: its admin's static files, named by the
    manifest storage with a hash of their content (core.21b470d754c3.css) — another wagtail,
    other files."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        page = answer.read().decode()
    return set(re.findall(r"/static/wagtailadmin/[\w./-]+\.[0-9a-f]{12}\.(?:css|js)", page))


def test_a_third_party_upgrade_failing_after_its_start_is_served_again_by_fresh_processes(
    wagtail: None, tmp_path: Path
) -> None:
    """Paso 5.1 starts the stable release and it answers; Etapa 6 fails (a critical URL that
    neither release serves): §9 puts the upgrade back and restarts the site — the page that names
    the release names the upgrade again, every process is younger than §9's restart."""
    e = env(SITE)
    admin = e.health.critical["admin"]
    marks, head, packages = (
        release_marks(admin),
        git("rev-parse", "HEAD", environment=SITE),
        freeze(SITE),
    )
    assert marks, f"{admin} names no hashed static file of wagtailadmin"
    missing = f"{e.health.url}rollbook-e2e-missing/"
    variant = wagtail_variant(
        tmp_path, lambda d: (d["health"]["critical"].update(missing=missing), fast(d))
    )
    done = run_feature(tmp_path, *WAGTAIL, extra_env=variant)
    compatibility.record(
        STACK, done, "Etapa 6 fails after Paso 5.1 started the target: §9", RESTORED
    )
    assert done.outcome == RESTORED, dump(done)
    assert done.pasos()["5.1"] == "passed", dump(done)
    assert git("rev-parse", "HEAD", environment=SITE) == head and freeze(SITE) == packages
    assert release_marks(admin) == marks  # the upgrade serves again, not the stable release
    restarted = done.restarted_at()
    assert restarted is not None, dump(done)
    assert stale_processes(restarted, SITE) == []


def test_a_sites_first_rollback_without_a_ledger_record_is_planned_from_the_packages(
    wagtail: None, tmp_path: Path
) -> None:
    """A team's first rollback with rollbook has no ledger record: the target, the nightly backup
    and the migrations to undo come from the tags, the backups and the migration files of the
    repository and of the packages — Wagtail's migrations and squashed histories all live in
    site-packages (read from the repository alone, the upgrade looked like "same") — as
    Django's migrate sees them. The real run without a record: tests/e2e/test_filer.py."""
    stable = stable_record()
    Path(env(SITE).ledger_file()).unlink()
    upgrade_rows = set(migration_rows(SITE))
    plan = run_feature(tmp_path / "plan", *WAGTAIL, "--dry-run")
    compatibility.record(STACK, plan, "dry-run without a ledger record", "PLAN — SIN CAMBIOS")
    assert plan.outcome == "PLAN — SIN CAMBIOS", dump(plan)
    facts = plan.facts()
    assert facts["target"]["tag"] == wagtail_site.PROFILE.tag(wagtail_site.STABLE)
    assert facts["target"]["ledger_status"] is None and not facts["target"]["migration_rows"]
    assert facts["backup"]["path"] == str(newest_nightly(SITE)), facts["backup"]
    assert "migration files (repository and packages)" in plan.output
    # what the upgrade applied, and per app the target's leaf — never a name a squash replaced
    migrations, packages = facts["migration_plan"], facts["package_migrations"]
    assert migrations["kind"] == "reversible", migrations
    assert set(migrations["extra"]) == upgrade_rows - set(stable["migration_rows"])
    replaced = {name for names in packages["squashed"].values() for name in names}
    assert replaced & upgrade_rows, packages["squashed"]  # squashes the database applied
    assert migrations["targets"], migrations
    for app, leaf in migrations["targets"]:
        kept = [m for m in stable["migrations"] if m.startswith(f"{app}.")]  # the ledger's plan
        assert kept and f"{app}.{leaf}" == kept[-1] and f"{app}.{leaf}" not in replaced, (
            app,
            leaf,
            kept[-3:],
        )


def test_a_third_party_restore_puts_the_rows_its_migrate_regenerates_apart(
    wagtail: None, tmp_path: Path
) -> None:
    """The procedure's literal restore of the nightly (taken before the upgrade), swapped in: the
    editors added after the upgrade are user data, lost and named by key and Django's own label;
    an editor changed since the backup is named with the backup's value → the newer one; the
    content types and permissions the upgrade's migrate made for its new models are what the
    post-migrate signals of Wagtail's own migrate write on an empty database (asked at Paso 7.1):
    listed apart, not counted by §7.1."""
    variant = wagtail_variant(
        tmp_path,
        lambda d: (fast(d), d["database"].update(rollback="restore", restore_strategy="swap")),
    )
    newer = "changed-after-upgrade@example.test"
    with connect(environment=SITE) as conn:
        query = "SELECT id::text, email FROM auth_user WHERE username = 'before-backup-1'"
        [(editor, older)] = conn.execute(query).fetchall()
        conn.execute("UPDATE auth_user SET email = %s WHERE id = %s", (newer, int(editor)))
    done = run_feature(tmp_path, *WAGTAIL, extra_env=variant)
    compatibility.record(
        STACK, done, "restore of the nightly (swap): rows named, apart by kind", COMPLETED
    )
    assert done.outcome == COMPLETED, dump(done)
    facts = done.facts()
    lost = {t: n for t, n in facts["data_loss"]["tables"].items() if n}
    assert lost["auth_user"] == wagtail_site.ROWS_AFTER_UPGRADE, lost
    labels = facts["row_labels"]["tables"]["auth_user"]
    assert len(labels) == wagtail_site.ROWS_AFTER_UPGRADE, labels
    assert all(v.startswith("after-upgrade-") for v in labels.values()), labels
    changed = facts["rows_changed"]
    assert changed["tables"]["auth_user"] == 1, changed
    assert changed["rows"]["auth_user"][editor]["email"] == [older, newer], changed
    kinds = facts["row_kinds"]
    framework = {"auth_permission", "django_content_type"}
    assert set(kinds["regenerated"]) == framework & set(lost) != set(), (kinds, lost)
    assert "auth_user" not in kinds["regenerated"] and not kinds["ignored"], kinds
    users = sum(n for t, n in lost.items() if t not in framework)
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    text = markdown.read_text()
    [line] = [x for x in text.splitlines() if x.startswith("| 0 pérdida de datos")]
    assert line.startswith(
        f"| 0 pérdida de datos | {users} filas; aparte, filas que no son datos"
    ), line
    assert "regeneradas por el migrate de la versión objetivo: " in line
    assert f"email «{older}» → «{newer}»" in line and line.endswith("| NO CUMPLE |"), line
    first = min(labels, key=int)
    assert f"auth_user: 5 (claves {first} «{labels[first]}»" in text
