"""Rollbook's rollback (A) against the procedure's Anexo A as a bare bash script (B).

    .venv/bin/python bench/rollback_vs_script.py --size-mb 10 --pairs 3 [--fast] [--markdown FILE]

On the sandbox grown to --size-mb (`rollbook sandbox grow`), pairs run alternately: reset, A
(features/rollback.feature); with --fast, reset, F (the same with the fast options:
`restore_strategy: swap`, `force_reinstall: when_needed`); reset, B (bench/anexo_a.sh, the same
commands without the framework, journal or checks). Prints per pair and the medians of: total,
downtime (services stopped → health 200), database restore (F: Paso 4.0, before the downtime), the
Etapas 2-5 of A (and F); and the ratios A/B (F/B) pair by pair. A benchmark, not a test: nothing
asserts a time. With --markdown, the table is written to FILE.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from rollbook import sandbox
from rollbook.core import timeline
from rollbook.core.config import load_environment, secret
from rollbook.core.journal import read_journal
from rollbook.sandbox import bulk
from rollbook.sandbox.backups import newest_backup
from rollbook.sandbox.history import stable_tag
from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.variant import fast_options, write_variant

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--env=sandbox", "--reason=benchmark", "--severity=CRITICO", "--approved-by=bench", "-q"]
MEASURES = ("total", "downtime", "restore")


def run_a(report_dir: Path, variables: dict[str, str] | None = None) -> dict[str, float]:
    """rollbook (with `variables`, an environment variant): figures from the run's journal."""
    sandbox.reset()
    before = set(report_dir.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "features/rollback.feature", *ARGS,
         f"--report-dir={report_dir}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, **(variables or {})},
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"rollbook's rollback failed:\n{done.stdout[-3000:]}")
    [folder] = set(report_dir.iterdir()) - before
    events = list(read_journal(folder / "journal.jsonl"))
    figures: dict[str, float] = defaultdict(float)
    figures["total"] = timeline.seconds_between(events[0]["ts"], events[-1]["ts"]) or 0.0
    figures["downtime"] = timeline.downtime(events) or 0.0
    for event in events:
        if event["event"] == "paso_finished" and event["phase"] == "call":
            figures[f"etapa{str(event['paso']).split('.')[0]}"] += event["duration"]
            if event["paso"] in ("4.0", "4.3"):  # swap: 4.0 restores, off the downtime
                figures["restore"] = max(figures["restore"], event["duration"])
    return figures


def script_environment(safety_dump: Path) -> dict[str, str]:
    env, layout = load_environment("sandbox"), load_layout()
    backup = newest_backup(layout)
    assert backup is not None and env.maintenance is not None
    return {
        **os.environ,
        "SUPERVISORCTL": env.services.supervisorctl,
        "SUPERVISOR_CONF": str(env.services.supervisor_conf),
        "APP": env.app.path, "VENV": env.app.venv, "TAG": stable_tag(layout),
        "PIP_OPTIONS": " ".join(env.app.pip_options), "STATIC_ROOT": env.app.static_root,
        "MAINTENANCE_TEMPLATE": env.maintenance.template, "MAINTENANCE_PAGE": env.maintenance.page,
        "DB_HOST": env.database.host, "DB_PORT": str(env.database.port),
        "DB_USER": env.database.user, "DB_NAME": env.database.name,
        "DB_PASSWORD": secret(env, env.database.password_env),
        "BACKUP": str(backup), "SAFETY_DUMP": str(safety_dump), "HEALTH_URL": env.health.url,
    }  # fmt: skip


def run_b(scratch: Path) -> dict[str, float]:
    """The bare script: figures from the times it prints."""
    sandbox.reset()
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "anexo_a.sh")], capture_output=True, text=True,
        env=script_environment(scratch / "pre_rollback.sql"), check=False, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"bench/anexo_a.sh failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    at = {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines())}
    return {
        "total": at["end"] - at["start"],
        "downtime": at["healthy"] - at["stopped"],
        "restore": at["restore_end"] - at["restore_start"],
    }


def machine() -> str:
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**30
    return f"{os.cpu_count()} cores, {memory} GiB"


Figures = dict[str, float]


def render(pairs: list[tuple[Figures, Figures | None, Figures]]) -> list[str]:
    fast = all(p[1] is not None for p in pairs)
    rows = [
        "| measure | A rollbook (median s) | B script (median s) | A/B (median of pairs) |"
        + (" F fast (median s) | F/B (median of pairs) |" if fast else ""),
        "|---|---|---|---|" + ("---|---|" if fast else ""),
    ]
    for key in MEASURES:
        a, b = [p[0][key] for p in pairs], [p[2][key] for p in pairs]
        ratio = statistics.median(x / y for x, y in pairs_of(a, b))
        row = f"| {key} | {statistics.median(a):.1f} | {statistics.median(b):.1f} | {ratio:.2f} |"
        if fast:
            f = [p[1][key] for p in pairs if p[1] is not None]
            f_ratio = statistics.median(x / y for x, y in pairs_of(f, b))
            row += f" {statistics.median(f):.1f} | {f_ratio:.2f} |"
        rows.append(row)
    for etapa in ("etapa2", "etapa3", "etapa4", "etapa5"):
        values = [p[0][etapa] for p in pairs]
        row = f"| {etapa} | {statistics.median(values):.1f} | - | - |"
        if fast:
            row += f" {statistics.median(p[1][etapa] for p in pairs if p[1] is not None):.1f} | - |"
        rows.append(row)
    return rows


def pair_line(key: str, a: Figures, f: Figures | None, b: Figures) -> str:
    """One measure of one pair, with its ratios to B."""

    def ratio(x: float) -> str:
        return f"{x / b[key]:.2f}" if b[key] > 0 else "n/d"

    line = f"{key} A {a[key]:.1f} s / B {b[key]:.1f} s (A/B {ratio(a[key])})"
    return line + (f" / F {f[key]:.1f} s (F/B {ratio(f[key])})" if f else "")


def pairs_of(a: list[float], b: list[float]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(a, b, strict=True) if y > 0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=10, help="database growth (MB)")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs, run alternately")
    parser.add_argument("--fast", action="store_true", help="also run F, the fast options")
    parser.add_argument("--markdown", type=Path, help="write the table into this file")
    options = parser.parse_args(argv)
    sandbox.up()
    bulk.grow(options.size_mb)
    pairs: list[tuple[Figures, Figures | None, Figures]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            reports, variables = Path(tmp) / "reports", write_variant(Path(tmp), fast_options)
            reports.mkdir()
            for n in range(options.pairs):
                a = run_a(reports)
                f = run_a(reports, variables) if options.fast else None
                b = run_b(Path(tmp))
                pairs.append((a, f, b))
                print(f"pair {n + 1}: " + ", ".join(pair_line(k, a, f, b) for k in MEASURES))
    finally:
        bulk.grow(0)
        sandbox.reset()
    table = [
        f"Database grown by {options.size_mb} MB, {options.pairs} pairs, machine: {machine()}.",
        f"Command: `.venv/bin/python bench/rollback_vs_script.py --size-mb {options.size_mb} "
        f"--pairs {options.pairs}{' --fast' if options.fast else ''}`",
        "",
        *render(pairs),
    ]
    print("\n".join(table))
    if options.markdown:
        options.markdown.write_text("\n".join(table) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
