"""A backup's identity by content: the django_migrations rows it holds, read from its data, against
the target release's migrations."""

from pathlib import Path

from rollbook.actions.database.backups import applied_in_backup, identity_problem, parse_copy
from tests.unit.local_run import local_host

DUMP = """--
-- PostgreSQL database dump
--
COPY public.auth_group (id, name) FROM stdin;
1\tcore.0001_initial
\\.

COPY public.django_migrations (id, app, name, applied) FROM stdin;
1\tcontenttypes\t0001_initial\t2026-11-27 10:00:00+00
2\tcore\t0001_initial\t2026-11-27 10:00:01+00
\\.

COPY public.zz_after (id) FROM stdin;
9
\\.
"""


def test_the_rows_of_its_copy_block_only() -> None:
    assert parse_copy(DUMP[DUMP.index("COPY public.django") :]) == [
        "contenttypes.0001_initial",
        "core.0001_initial",
    ]
    assert parse_copy("-- no data\n") is None


def test_a_plain_dump_is_read_on_its_host(tmp_path: Path) -> None:
    dump = tmp_path / "nightly.sql"
    dump.write_text(DUMP)
    host = local_host(tmp_path / "journal")
    assert applied_in_backup(host, str(dump), "plain") == [
        "contenttypes.0001_initial",
        "core.0001_initial",
    ]


def test_the_same_migrations_pass_and_a_foreign_database_is_named() -> None:
    applied = ["contenttypes.0001_initial", "core.0001_initial"]
    assert identity_problem(applied, set(applied), None, "the ledger") is None
    assert identity_problem(applied, {"core.0001_initial"}, {"core"}, "the tree") is None
    foreign = ["contenttypes.0001_initial", "blog.0001_initial"]
    problem = identity_problem(foreign, set(applied), None, "the ledger's record of t1")
    assert problem is not None
    assert "lacks 1 migrations of the ledger's record of t1 (core.0001_initial)" in problem
    assert "has 1 that the ledger's record of t1 does not (blog.0001_initial)" in problem
    assert "no django_migrations rows" in str(identity_problem(None, set(applied), None, "x"))


def test_a_backup_of_another_release_is_refused_too() -> None:
    newer = ["core.0001_initial", "core.0002_customer_full_name_tier"]
    problem = identity_problem(newer, {"core.0001_initial"}, {"core"}, "t1's migration files")
    assert problem is not None and "core.0002_customer_full_name_tier" in problem
