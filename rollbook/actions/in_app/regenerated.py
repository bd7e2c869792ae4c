"""Runs inside the app (`manage.py shell -c`, with the deployed code), never imported by rollbook.

Which tables the app's post-migrate signals fill: Django's test-database machinery creates the
empty scratch database $ROLLBOOK_SCRATCH_DATABASE for the app's default connection (refused
unless its database is $ROLLBOOK_DATABASE), runs every migration there, then the post-migrate
signals (content types, permissions, an app's own registries), and drops it. The signals run
after every `migrate`, so what they write is recreated whenever it is missing; a data
migration's rows (a CMS's root page, a default site) are written once and are not. One JSON line
after the marker answers {"tables": {table: rows the signals wrote}}, or {"error": why} where
the signals could not be told apart or the restored database is not the default connection's.
"""

import json
import os

from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections

MARKER = "ROLLBOOK-REGENERATED "


def connection():
    """The app's default connection, where it is the database the rollback restored; else None
    (another alias's post-migrate handlers could write to `default`, the live database)."""
    conn = connections[DEFAULT_DB_ALIAS]
    return conn if conn.settings_dict.get("NAME") == os.environ["ROLLBOOK_DATABASE"] else None


def counts(conn):
    """{table: rows} of every table of the connection's database."""
    found = {}
    with conn.cursor() as cursor:
        for table in conn.introspection.table_names(cursor):
            cursor.execute(f"SELECT count(*) FROM {conn.ops.quote_name(table)}")
            found[table] = cursor.fetchone()[0]
    return found


def main():
    scratch, conn = os.environ["ROLLBOOK_SCRATCH_DATABASE"], connection()
    if conn is None:
        wanted = os.environ["ROLLBOOK_DATABASE"]
        print(MARKER + json.dumps({"error": f"the app's default connection is not {wanted}"}))
        return
    live = conn.settings_dict["NAME"]
    if scratch == live:  # never the live database
        raise SystemExit(f"refused: {scratch} is the app's own database")
    conn.settings_dict.setdefault("TEST", {}).update(NAME=scratch, MIGRATE=True)
    migrated = {}
    signal = migrate.emit_post_migrate_signal

    def after_the_migrations(*args, **kwargs):
        migrated.update(counts(conn))  # every migration applied, no signal run yet
        return signal(*args, **kwargs)

    migrate.emit_post_migrate_signal = after_the_migrations
    conn.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        signalled = counts(conn)
    finally:  # drops the scratch database, the connection's name back to the live one
        conn.creation.destroy_test_db(live, verbosity=0)
    if not migrated:
        answer = {"error": "migrate ran no post-migrate signal this script could see"}
    else:
        written = {
            t: n - migrated.get(t, 0) for t, n in signalled.items() if n > migrated.get(t, 0)
        }
        answer = {"tables": written}
    print(MARKER + json.dumps(answer))


main()
