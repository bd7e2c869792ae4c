"""A migration history as `migrate` sees it: a squash and the migrations it replaces are one
history, whether the database recorded the squash, its replaced names, or both; the squashes read
from a release's tree on its host."""

import sys
from pathlib import Path

from rollbook.actions.backups import identity_problem
from rollbook.actions.migration_history import as_migrate_sees, trees
from rollbook.core.config import AppConfig
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from tests.unit.git_repo import IDENTITY, git
from tests.unit.local_run import local_host

REPLACED = ["core.0001_initial", "core.0002_order", "core.0003_total"]
SQUASHES = {"core.0001_squashed_0003_total": REPLACED}


def test_a_database_migrated_before_the_squash_is_the_squash() -> None:
    before = {*REPLACED, "core.0004_note", "auth.0001_initial"}
    assert as_migrate_sees(before, SQUASHES) == {
        "core.0001_squashed_0003_total", "core.0004_note", "auth.0001_initial",
    }  # fmt: skip


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
    nested = {**SQUASHES, "core.0001_squashed_0004_note": ["core.0001_squashed_0003_total",
                                                            "core.0004_note"]}  # fmt: skip
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
    venv = Venv(host, AppConfig(path=str(repo), venv=str(python.parent.parent), tags="deploy-*"))
    records = Records(host.executor.journal, host.executor)
    read = trees(records, tree, venv, ["HEAD~1", "HEAD", "no-such-release"])
    assert read.migrations == {
        "HEAD~1": ["core.0001_initial", "core.0001_squashed_0003_total", "shop.0001_initial"],
        "HEAD": ["core.0001_initial", "shop.0001_initial"],
        "no-such-release": None,
    }
    assert read.squashed == SQUASHES  # what any of the releases squashed
    # a later Paso asking for releases already read gets them without another call to the host
    (repo / ".git").rename(tmp_path / "git-gone")
    assert trees(records, tree, venv, ["HEAD~1"]) is read
