"""Rollbook's rollback (A) against the procedure's Anexo A as a bare bash script (B).

    .venv/bin/python bench/rollback_vs_script.py --size-mb 10 --pairs 3 [--fast] [--migrate]
        [--recover] [--new-venv] [--defaults] [--after-backup-percent P] [--markdown FILE]

On the sandbox grown to --size-mb (`rollbook sandbox grow`), pairs run alternately: reset, A
(features/rollback.feature, the procedure as written: `database.rollback: restore`,
`app.force_reinstall: always`); with --defaults, reset, D (rollbook's shipped defaults:
`least_loss`, `new_venv`); with --fast,
reset, F (the same with the fast options: `restore_strategy: swap`, `force_reinstall:
when_needed`); with --migrate, reset, M (A's options with `database.rollback: least_loss`, the
default: on the sandbox, Paso 3.0 reverses the migrations, nothing is restored); with --recover,
reset, R (A's options with `restore_recover`: Paso 4.5 puts back the rows the restore dropped;
--after-backup-percent P leaves the newest P % of the grown rows out of the backup, rows written
since it); with --new-venv, reset, N (A's options with `force_reinstall: new_venv`, the default:
Paso 3.4 builds the target's venv before the stop, Paso 3.2 renames it in); reset, B
(bench/anexo_a.sh, the same commands without the framework, journal or checks). Prints per
pair and the medians of: total, downtime (services stopped → health 200), database restore
(Paso 4.3; M: Paso 3.0, the reversal, and its safety dump where it could not be taken ahead),
the Etapas 2-5 (Paso 3.4 and Paso 4.0, before the stop, apart: the new venv; swap's shadow
restore or the safety dump taken ahead), Paso 4.5 ("recover") of each; and the ratios to B pair
by pair. A benchmark, not a test: nothing
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rollbook import sandbox
from rollbook.core import timeline
from rollbook.core.config import load_environment, secret
from rollbook.core.journal import read_journal
from rollbook.sandbox import bulk, instance, up_down
from rollbook.sandbox.backups import newest_backup
from rollbook.sandbox.history import stable_tag
from rollbook.sandbox.layout import Layout, load_layout, load_profile_layout
from rollbook.sandbox.variant import fast_options, restoring, write_variant

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--reason=benchmark",
    "--severity=CRITICO",
    "--approved-by=Tomás Torres",
    "-q",
]
MEASURES = ("total", "downtime", "restore")


@dataclass(frozen=True)
class Site:
    """What the pairs roll back: the sandbox's app, or a third-party profile beside it."""

    profile: str | None

    @property
    def env_name(self) -> str:
        return f"sandbox-{self.profile}" if self.profile else "sandbox"

    def layout(self) -> Layout:
        return load_profile_layout(self.profile) if self.profile else load_layout()

    def reset(self) -> None:
        """Back to the start state: the profile's (`up` applies it again), else the sandbox's."""
        if self.profile:
            up_down.up(profile=self.profile)
        else:
            sandbox.reset()

    def stable_tag(self) -> str:
        if not self.profile:
            return stable_tag(self.layout())
        return up_down.SITES[self.profile].tag(up_down.SITES[self.profile].stable)

    def variant(self, parent: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
        """The site's environment file changed by `change`, where the engine reads it."""
        if not self.profile:
            return write_variant(parent, change)
        variables = write_variant(parent, None, extending=(self.env_name,))
        path = parent / "environments" / f"{self.env_name}.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data))
        return variables


def run_a(site: Site, report_dir: Path, variables: dict[str, str]) -> dict[str, float]:
    """rollbook (with `variables`, an environment variant): figures from the run's journal."""
    site.reset()
    before = set(report_dir.iterdir())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "features/rollback.feature",
            *ARGS,
            f"--env={site.env_name}",
            f"--report-dir={report_dir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **variables},
    )
    if done.returncode != 0:
        sys.exit(f"rollbook's rollback failed:\n{done.stdout[-3000:]}")
    [folder] = set(report_dir.iterdir()) - before
    events = list(read_journal(folder / "journal.jsonl"))
    figures: dict[str, float] = defaultdict(float)
    figures["total"] = timeline.seconds_between(events[0]["ts"], events[-1]["ts"]) or 0.0
    figures["downtime"] = timeline.downtime(events) or 0.0
    for event in events:
        if event["event"] == "paso_finished" and event["phase"] == "call":
            if event["paso"] in ("3.4", "4.0"):  # before the stop, not the downtime's Etapas
                figures[f"paso{event['paso']}"] = event["duration"]
                continue
            figures[f"etapa{str(event['paso']).split('.')[0]}"] += event["duration"]
            if event["paso"] in ("3.0", "4.3"):
                figures["restore"] = max(figures["restore"], event["duration"])
            if event["paso"] == "4.5":
                figures["recover"] = event["duration"]
    return figures


def script_environment(site: Site, safety_dump: Path) -> dict[str, str]:
    env, layout = load_environment(site.env_name), site.layout()
    backup = newest_backup(layout)
    assert backup is not None
    maintenance = env.maintenance
    return {
        **os.environ,
        **env.app.env,
        "SUPERVISORCTL": env.services.supervisorctl,
        "SUPERVISOR_CONF": str(env.services.supervisor_conf),
        "SERVICES": " ".join(env.services.app),
        "REQUIREMENTS": env.app.requirements,
        "APP": env.app.path,
        "VENV": env.app.venv,
        "TAG": site.stable_tag(),
        "PIP_OPTIONS": " ".join(env.app.pip_options),
        "STATIC_ROOT": env.app.static_root,
        "MAINTENANCE_TEMPLATE": maintenance.template if maintenance else "",
        "MAINTENANCE_PAGE": maintenance.page if maintenance else "",
        "DB_HOST": env.database.host,
        "DB_PORT": str(env.database.port),
        "DB_USER": env.database.user,
        "DB_NAME": env.database.name,
        "DB_PASSWORD": secret(env, env.database.password_env),
        "BACKUP": str(backup),
        "SAFETY_DUMP": str(safety_dump),
        "HEALTH_URL": env.health.url,
    }


def run_b(site: Site, scratch: Path) -> dict[str, float]:
    """The bare script: figures from the times it prints."""
    site.reset()
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "anexo_a.sh")],
        capture_output=True,
        text=True,
        env=script_environment(site, scratch / "pre_rollback.sql"),
        check=False,
        timeout=3600,
    )
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
VARIANTS = {  # column → label; B is the bare script, A the procedure's options
    "A": "A rollbook",
    "F": "F fast",
    "M": "M migrate",
    "R": "R recover",
    "N": "N new venv",
    "D": "D defaults",
}


def render(pairs: list[dict[str, Figures]]) -> list[str]:
    """The table: per measure, each variant's median and its ratio to B (median of pairs)."""
    shown = [k for k in VARIANTS if k in pairs[0]]
    head = "| measure | B script (median s) |" + "".join(
        f" {VARIANTS[k]} (median s) | {k}/B (median of pairs) |" for k in shown
    )
    rows = [head, "|---|---|" + "---|---|" * len(shown)]
    b_of = [p["B"] for p in pairs]
    for key in MEASURES:
        row = f"| {key} | {statistics.median(b[key] for b in b_of):.1f} |"
        for k in shown:
            values = [p[k][key] for p in pairs]
            ratio = statistics.median(x / y for x, y in pairs_of(values, [b[key] for b in b_of]))
            row += f" {statistics.median(values):.1f} | {ratio:.2f} |"
        rows.append(row)
    for etapa in ("paso3.4", "paso4.0", "etapa2", "etapa3", "etapa4", "etapa5", "recover"):
        medians = [statistics.median(p[k].get(etapa, 0.0) for p in pairs) for k in shown]
        cells = "".join(f" {m:.1f} | - |" for m in medians)
        rows.append(f"| {etapa} | - |{cells}")
    return rows


def pair_line(key: str, pair: dict[str, Figures]) -> str:
    """One measure of one pair, with each variant's ratio to B."""
    b = pair["B"][key]
    said = [f"{key} B {b:.1f} s"]
    for k in VARIANTS:
        if k in pair:
            ratio = f"{pair[k][key] / b:.2f}" if b > 0 else "n/d"
            said.append(f"{k} {pair[k][key]:.1f} s ({k}/B {ratio})")
    return " / ".join(said)


def pairs_of(a: list[float], b: list[float]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(a, b, strict=True) if y > 0]


def procedure(data: dict[str, Any]) -> None:
    """A: the procedure as written: the backup restored, Paso 3.2's --force-reinstall."""
    restoring(data)
    data["app"]["force_reinstall"] = "always"


def swapped(data: dict[str, Any]) -> None:
    """F: A with the fast options (the backup restored into a shadow and swapped in)."""
    restoring(data)
    fast_options(data)


def least_loss(data: dict[str, Any]) -> None:
    """M: the procedure's options, the database going back by reversing its migrations."""
    procedure(data)
    data["database"]["rollback"] = "least_loss"


def restore_recover(data: dict[str, Any]) -> None:
    """R: the procedure's options, then Paso 4.5 puts back the rows the restore dropped."""
    procedure(data)
    data["database"]["rollback"] = "restore_recover"


def new_venv(data: dict[str, Any]) -> None:
    """N: the procedure's options, Paso 3.2's reinstall built before the stop (Paso 3.4)."""
    restoring(data)
    data["app"]["force_reinstall"] = "new_venv"


def defaults(data: dict[str, Any]) -> None:
    """D: rollbook's shipped defaults (least_loss, new_venv): the environment file unchanged."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=10, help="database growth (MB)")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs, run alternately")
    parser.add_argument("--fast", action="store_true", help="also run F, the fast options")
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="also run M, database.rollback: least_loss (reverse migrations)",
    )
    parser.add_argument(
        "--recover",
        action="store_true",
        help="also run R, database.rollback: restore_recover (Paso 4.5)",
    )
    parser.add_argument(
        "--new-venv",
        action="store_true",
        help="also run N, app.force_reinstall: new_venv (Paso 3.4 before the stop)",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="also run D, rollbook's shipped defaults (least_loss, new_venv)",
    )
    parser.add_argument(
        "--after-backup-percent",
        type=float,
        default=0.0,
        help="the newest %% of the grown rows are missing from the backup",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(up_down.SITES),
        help="roll back this third-party profile (sandbox up --profile) instead of the demo app; "
        "its database is not grown",
    )
    parser.add_argument("--markdown", type=Path, help="write the table into this file")
    options = parser.parse_args(argv)
    instance.activate(instance.current())  # $ROLLBOOK_SANDBOX_INSTANCE: its files and ports
    site = Site(options.profile)
    sandbox.up(profile=options.profile)
    if not options.profile:
        bulk.grow(options.size_mb, options.after_backup_percent)
    pairs: list[dict[str, Figures]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            reports = Path(tmp) / "reports"
            reports.mkdir()
            variants = {"A": site.variant(Path(tmp) / "procedure", procedure)}
            if options.fast:
                variants["F"] = site.variant(Path(tmp) / "fast", swapped)
            if options.migrate:
                variants["M"] = site.variant(Path(tmp) / "migrate", least_loss)
            if options.recover:
                variants["R"] = site.variant(Path(tmp) / "recover", restore_recover)
            if options.new_venv:
                variants["N"] = site.variant(Path(tmp) / "new-venv", new_venv)
            if options.defaults:
                variants["D"] = site.variant(Path(tmp) / "defaults", defaults)
            for n in range(options.pairs):
                pair = {k: run_a(site, reports, variables) for k, variables in variants.items()}
                pair["B"] = run_b(site, Path(tmp))
                pairs.append(pair)
                print(f"pair {n + 1}: " + ", ".join(pair_line(k, pair) for k in MEASURES))
    finally:
        if not options.profile:
            bulk.grow(0)
        site.reset()
    chosen = ("fast", "migrate", "recover", "new_venv", "defaults")
    flags = "".join(f" --{f.replace('_', '-')}" for f in chosen if getattr(options, f))
    if options.after_backup_percent:
        flags += f" --after-backup-percent {options.after_backup_percent:g}"
    if options.profile:
        flags += f" --profile {options.profile}"
    grown = (
        f"The {options.profile} profile"
        if options.profile
        else (f"Database grown by {options.size_mb} MB")
    )
    table = [
        grown
        + (
            f" ({options.after_backup_percent:g} % of it written after the backup)"
            if options.after_backup_percent
            else ""
        )
        + f", {options.pairs} pairs, machine: {machine()}.",
        "Command: `.venv/bin/python bench/rollback_vs_script.py "
        + ("" if options.profile else f"--size-mb {options.size_mb} ")
        + f"--pairs {options.pairs}{flags}`",
        "",
        *render(pairs),
    ]
    print("\n".join(table))
    if options.markdown:
        options.markdown.write_text("\n".join(table) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
