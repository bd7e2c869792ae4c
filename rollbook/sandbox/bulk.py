"""`rollbook sandbox grow --size-mb N`: a database of a chosen size, for the performance benchmark.

Adds an order-events table (a bigint key, a foreign key to core_order, two indexes, a text
payload), like the audit trail a real shop accumulates, to both the start state's template and the
nightly backup, so every `reset` starts from the grown data and the rollback restores all of it.
The rows are the same in both (fixed times, over the orders the backup has); with
`--after-backup-percent P` the backup lacks the newest P % of them: rows written since it, which a
restore drops and Paso 4.5 recovers. `--size-mb 0` takes the table out again.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

from rollbook.core.errors import UserError
from rollbook.sandbox.backups import dump_database, nightly_dump
from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.postgres import TEMPLATE, existing_cluster, quote_ident
from rollbook.sandbox.shell import say

TABLE = "audit_orderevent"
ROW_BYTES = 325  # heap and both indexes per row, payload of 200 characters (measured: 325.1)
BASE_DUMP = "nightly-base.sql"  # the nightly backup as provisioned, before any growth
SCRATCH = "iact_grow_scratch"


EPOCH = "2026-01-01 00:00:00+00"  # the events' times count back from it: the same in every copy


def grow_sql(rows: int, owner: str, orders: int) -> str:
    """The events table with `rows` rows spread over the first `orders` orders (those the nightly
    backup has), identical wherever it runs; none when rows is 0."""
    drop = f"SET search_path = public;\nDROP TABLE IF EXISTS {TABLE};\n"  # a dump clears it
    if not rows:
        return drop
    return (
        drop + f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, "
        "order_id bigint NOT NULL REFERENCES core_order(id), kind varchar(32) NOT NULL, "
        "payload text NOT NULL, created_at timestamptz NOT NULL);\n"
        f"INSERT INTO {TABLE} (id, order_id, kind, payload, created_at) "
        "SELECT g, o.id, (ARRAY['created','paid','shipped','refunded'])[1 + g % 4], "
        f"repeat(md5(g::text), 6) || left(md5(o.id::text), 8), "
        f"timestamptz '{EPOCH}' - make_interval(secs => g) "
        f"FROM generate_series(1, {rows}) AS g "
        "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM core_order "
        f"ORDER BY id LIMIT {orders}) AS o ON o.n = g % {orders};\n"
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), {rows});\n"
        f"CREATE INDEX {TABLE}_order_idx ON {TABLE} (order_id);\n"
        f"CREATE INDEX {TABLE}_created_idx ON {TABLE} (created_at);\n"
        f"ALTER TABLE {TABLE} OWNER TO {quote_ident(owner)};\n"
        f"ANALYZE {TABLE};\n"
    )


def grow(size_mb: int, after_backup_percent: float = 0.0) -> None:
    if size_mb < 0:
        raise UserError(f"--size-mb {size_mb}: give a size in MB, 0 or more")
    if not 0 <= after_backup_percent < 100:
        raise UserError(f"--after-backup-percent {after_backup_percent}: give 0 up to 99")
    layout = load_layout()
    cluster = existing_cluster(layout)
    if cluster is None or not cluster.is_running():
        raise UserError("the sandbox is not up: rollbook sandbox up")
    rows = size_mb * 1024 * 1024 // ROW_BYTES
    orders = 2 * layout.seed_rows  # the seed's orders at the stable release: the backup has them
    script = grow_sql(rows, layout.env.database.user, orders)
    in_backup = grow_sql(
        rows - int(rows * after_backup_percent / 100), layout.env.database.user, orders
    )
    base = layout.cache / BASE_DUMP
    if not base.is_file():
        shutil.copyfile(nightly_dump(layout), base)
    say(
        f"growing the start state and the nightly backup by {size_mb} MB ({rows} rows"
        + (
            f", {after_backup_percent:g} % of them written after the backup"
            if after_backup_percent
            else ""
        )
        + ") ..."
    )
    template, scratch = quote_ident(TEMPLATE), quote_ident(SCRATCH)
    owner = quote_ident(layout.env.database.user)
    cluster.sql(
        f"ALTER DATABASE {template} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true;\n"
        f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE);\n"
        f"CREATE DATABASE {scratch} OWNER {owner};\n"
    )
    # the start state, and the nightly backup (the provisioned dump grown the same way, dumped
    # again as the app's role), filled at the same time: each is one psql, mostly one CPU's work
    try:
        with ThreadPoolExecutor(2) as pool:
            fills = [
                pool.submit(cluster.sql, f"\\connect {TEMPLATE}\n{script}"),
                pool.submit(
                    cluster.sql,
                    f"\\connect {SCRATCH}\n{base.read_text(encoding='utf-8')}\n{in_backup}",
                ),
            ]
            for fill in fills:
                fill.result()
        dump_database(layout, SCRATCH, nightly_dump(layout))
    finally:
        cluster.sql(
            f"ALTER DATABASE {template} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;\n"
            f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE);\n"
        )
    say("grown: every `rollbook sandbox reset` starts from it (`--size-mb 0` undoes it)")
