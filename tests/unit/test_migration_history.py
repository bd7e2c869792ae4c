"""A migration history as `migrate` sees it: a squash and the migrations it replaces are one
history, whether the database recorded the squash, its replaced names, or both; the squashes read
from a release's tree on its host."""

import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from rollbook.actions.database.backups import identity_problem
from rollbook.actions.database.migration_history import as_migrate_sees, trees
from rollbook.actions.database.package_migrations import INSTALL, packages, sources
from rollbook.core.config import AppConfig
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from rollbook.core.state import Target, TargetResolved
from tests.unit.git_repo import IDENTITY, git
from tests.unit.local_run import local_host, local_run
from tests.unit.test_requirements import wheel

REPLACED = ["core.0001_initial", "core.0002_order", "core.0003_total"]
SQUASHES = {"core.0001_squashed_0003_total": REPLACED}


def test_a_database_migrated_before_the_squash_is_the_squash() -> None:
    before = {*REPLACED, "core.0004_note", "auth.0001_initial"}
    assert as_migrate_sees(before, SQUASHES) == {
        "core.0001_squashed_0003_total",
        "core.0004_note",
        "auth.0001_initial",
    }


def test_a_database_that_applied_the_squash_records_both_and_is_the_squash() -> None:
    both = {*REPLACED, "core.0001_squashed_0003_total"}
    assert as_migrate_sees(both, SQUASHES) == {"core.0001_squashed_0003_total"}
    # a tree whose replaced files are gone holds the squash only: the same history
    assert as_migrate_sees({"core.0001_squashed_0003_total"}, SQUASHES) == {
        "core.0001_squashed_0003_total"
    }


def test_a_part_of_what_a_squash_replaces_is_not_the_squash() -> None:
    part = {"core.0001_initial", "core.0002_order"}
    assert as_migrate_sees(part, SQUASHES) == part
    problem = identity_problem(
        as_migrate_sees(part, SQUASHES), {"core.0001_squashed_0003_total"}, {"core"}, "files"
    )
    assert problem and "lacks 1 migrations of files (core.0001_squashed_0003_total)" in problem


def test_a_squash_of_squashes() -> None:
    nested = {
        **SQUASHES,
        "core.0001_squashed_0004_note": ["core.0001_squashed_0003_total", "core.0004_note"],
    }
    assert as_migrate_sees({*REPLACED, "core.0004_note"}, nested) == {
        "core.0001_squashed_0004_note"
    }


def test_the_backup_rows_of_replaced_names_match_the_squashed_files() -> None:
    rows = as_migrate_sees([*REPLACED, "core.0004_note"], SQUASHES)
    files = as_migrate_sees({"core.0001_squashed_0003_total", "core.0004_note"}, SQUASHES)
    assert identity_problem(rows, files, {"core"}, "files") is None


def test_a_release_s_migrations_and_squashes_are_read_from_its_tree(tmp_path: Path) -> None:
    repo = tmp_path / "app"
    migrations = repo / "core" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_initial.py").write_text("operations = []\n")
    (migrations / "0001_squashed_0003_total.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        "    replaces = [('core', '0001_initial'), ('core', '0002_order'),\n"
        "                ('core', '0003_total')]\n"
        "    operations = []  # replaces nothing else\n"
    )
    # an app whose AppConfig sets its label: Django records its migrations as "shop.…"
    (repo / "apps" / "store" / "migrations").mkdir(parents=True)
    (repo / "apps" / "store" / "migrations" / "0001_initial.py").write_text("operations = []\n")
    (repo / "apps" / "store" / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\nclass StoreConfig(AppConfig):\n"
        "    name = 'apps.store'\n    label = 'shop'\n"
    )
    (repo / "README").write_text("replaces: a word outside any migration\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, *IDENTITY, "commit", "-q", "-m", "squash")
    (migrations / "0001_squashed_0003_total.py").unlink()
    git(repo, *IDENTITY, "commit", "-q", "-am", "squash gone")
    host = local_host(tmp_path / "journal")
    tree = Checkout(host, str(repo))
    python = Path(sys.executable)  # the app's python: any venv with bin/python
    app = Venv(host, AppConfig(path=str(repo), venv=str(python.parent.parent), tags="deploy-*"))
    records = Records(host.policy.journal, host.policy)
    read = trees(records, tree, app, ["HEAD~1", "HEAD", "no-such-release"])
    assert read.migrations == {
        "HEAD~1": ["core.0001_initial", "core.0001_squashed_0003_total", "shop.0001_initial"],
        "HEAD": ["core.0001_initial", "shop.0001_initial"],
        "no-such-release": None,
    }
    assert read.squashed == SQUASHES  # what any of the releases squashed
    # a later Paso asking for releases already read gets them without another call to the host
    (repo / ".git").rename(tmp_path / "git-gone")
    assert trees(records, tree, app, ["HEAD~1"]) is read


def test_the_migrations_in_packages_now_and_at_the_target_without_a_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party app's migrations live in site-packages: the target's are the installed
    ones of every package Paso 3.2 keeps, and the target version's archive of each it changes —
    the mirror's own file (a wheel, or a source archive), or a wheel downloaded into the run's
    private folder; the project's own checkout is the repository's; what cannot be read is
    named as unread, never taken as unchanged."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    offline = f', pip_options: ["--no-index", "--find-links={mirror}", "--no-compile"]'
    run = local_run(tmp_path, monkeypatch, app_keys=offline)
    venv.create(tmp_path / "venv", with_pip=True)
    labelled = "from django.apps import AppConfig\n\n\nclass Shelf(AppConfig):\n    label = 'books'"
    squash = (
        "class Migration:\n    replaces = [('books', '0001_initial'), ('books', '0002_author')]"
    )
    wheel(
        mirror,
        "my_shelf",
        "2.0",
        files={
            "my_shelf/apps.py": labelled,
            "my_shelf/migrations/0001_squashed_0002_author.py": squash,
            "my_shelf/migrations/0003_cover.py": "",
        },
    )
    wheel(
        mirror,
        "my_shelf",
        "1.9",
        files={
            "my_shelf/apps.py": labelled,
            "my_shelf/migrations/0001_initial.py": "",
            "my_shelf/migrations/0002_author.py": "",
        },
    )
    wheel(mirror, "ledge", "1.0", files={"ledge/migrations/0001_initial.py": ""})
    wheel(mirror, "stool", "2.0", files={"stool/migrations/0001_initial.py": ""})
    source = tmp_path / "stool-1.0.tar.gz"  # a release published as source only, src/ layout
    with tarfile.open(source, "w:gz") as archive:
        for name in (
            "stool-1.0/src/stool/migrations/0001_initial.py",
            "stool-1.0/src/stool/migrations/0002_legs.py",
        ):
            archive.addfile(tarfile.TarInfo(name))
    subprocess.run(
        [
            tmp_path / "venv/bin/pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            mirror,
            "my-shelf==2.0",
            "ledge==1.0",
            "stool==2.0",
        ],
        check=True,
    )
    # what Paso 1.2's pip dry-run answered: my-shelf goes back to 1.9 (from an index: its wheel
    # downloaded), stool to 1.0 (the mirror's source archive), ledge stays, the project itself
    # (its checkout) is reinstalled, a package with no wheel anywhere and one from git come in
    install = [
        ["My.Shelf", "1.9", "https://pypi.invalid/my_shelf-1.9-py3-none-any.whl", False],
        ["stool", "1.0", source.as_uri(), False],
        ["ledge", "1.0", (mirror / "ledge-1.0-py3-none-any.whl").as_uri(), False],
        ["project", "0.1", (tmp_path / "app").as_uri(), True],
        ["gone", "0.1", "https://pypi.invalid/gone-0.1.tar.gz", False],
        ["forked", "2.0", "git+https://git.invalid/forked", True],
    ]
    run.records.keep(Target("deploy-ok", "a" * 40, 0, "named by the test"))
    run.records.keep(TargetResolved({"local://": {"ok": True, "install": install}}, []))
    env = run.site.env
    found = packages(run.records, Venv(run.site.first_host("app"), env.app), env)
    assert found.deployed == [
        "books.0001_squashed_0002_author",
        "books.0003_cover",
        "ledge.0001_initial",
        "stool.0001_initial",
    ]
    assert found.target == [
        "books.0001_initial",
        "books.0002_author",
        "ledge.0001_initial",
        "stool.0001_initial",
        "stool.0002_legs",
    ]
    assert found.squashed == {
        "books.0001_squashed_0002_author": ["books.0001_initial", "books.0002_author"]
    }
    assert sorted(found.unread) == ["forked==2.0", "gone==0.1"], found.unread
    assert "gone==0.1" in found.unread["gone==0.1"]  # pip's own words on what it lacks
    assert "git+https://git.invalid/forked" in found.unread["forked==2.0"]
    # the target's history as migrate sees it: the squash, without the deployed 0003
    assert as_migrate_sees(found.target, found.squashed) >= {
        "books.0001_squashed_0002_author",
        "ledge.0001_initial",
    }
    assert packages(run.records, Venv(run.site.first_host("app"), env.app), env) is found


def test_a_dry_run_report_not_read_leaves_the_packages_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    venv.create(tmp_path / "venv", with_pip=True)
    run.records.keep(Target("deploy-ok", "a" * 40, 0, "named by the test"))
    run.records.keep(TargetResolved({"local://": {"ok": True, "install": None}}, []))
    env = run.site.env
    found = packages(run.records, Venv(run.site.first_host("app"), env.app), env)
    assert list(found.unread) == [INSTALL], found.unread


def test_pip_download_gets_only_the_options_that_say_where_packages_come_from() -> None:
    given = [
        "--no-compile",
        "-i",
        "https://mirror.invalid/simple",
        "--no-index",
        "--find-links=/srv/wheels",
        "--no-warn-script-location",
        "--trusted-host",
        "mirror.invalid",
    ]
    assert sources(given) == [
        "-i",
        "https://mirror.invalid/simple",
        "--no-index",
        "--find-links=/srv/wheels",
        "--trusted-host",
        "mirror.invalid",
    ]
