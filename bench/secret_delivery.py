"""What keeping the database password off command lines costs (issue 15): the run-private pgpass
file, made once per host and run, against a plain command on the same host.

    .venv/bin/python bench/secret_delivery.py --runs 20 [--markdown FILE]

On `local://` and on an `ssh://` host (an sshd of its own on loopback, logging in with a new key,
like the sandbox's fleet hosts) it times, per run: a trivial command (`true`, one round-trip),
and the first database command's extra work — this run's private folder made and the pgpass
file written through standard input (one round-trip) — and prints medians and their ratio. The
password then reaches every psql / pg_dump / pg_restore as PGPASSFILE, a path in the command's
environment, at no further cost. Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import tempfile
import time
from pathlib import Path

from rollbook.core.connection import Connection
from rollbook.sandbox.sshd import new_key, start_sshd


def median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def measure(spec: str, runs: int) -> tuple[float, float]:
    """(median ms of `true`, median ms of a new run's private folder + pgpass file)."""
    plain, secret = [], []
    for n in range(runs):
        connection = Connection(spec, f"bench-{n}")
        started = time.monotonic()
        connection.send("true", bound=30)
        plain.append(time.monotonic() - started)
        started = time.monotonic()
        connection.secret_file("pgpass", "*:*:*:*:bench-password\n")
        secret.append(time.monotonic() - started)
        connection.remove_private_folder()
    return median_ms(plain), median_ms(secret)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sshd = start_sshd(folder / "sshd")
        try:
            key = new_key(folder / "key")
            sshd.authorized_keys.write_text(key.with_suffix(".pub").read_text())
            rows = [
                ("local://", *measure("local://", args.runs)),
                ("ssh:// (loopback)", *measure(sshd.spec(getpass.getuser(), key), args.runs)),
            ]
        finally:
            sshd.stop()
    lines = [
        "| host | `true` (ms) | private folder + pgpass (ms) | ratio | runs |",
        "|---|---|---|---|---|",
        *(f"| {h} | {p} | {s} | {s / p:.2f} | {args.runs} |" for h, p, s in rows),
    ]
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
