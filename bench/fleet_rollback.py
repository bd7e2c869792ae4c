"""Time the rollback of the sandbox's fleet with 1 and with 3 app hosts over SSH (issue 8).

    .venv/bin/python bench/fleet_rollback.py --hosts 1 3 --runs 2 [--markdown FILE]

Each run, size after size (so a machine that slows down slows both): `sandbox up` with that
many app hosts (the Ansible inventory lists them), `rollbook sandbox reset` and the rollback
feature on environments/fleet.yaml with
`services.restart: all` (rolling starts the hosts one by one on purpose). Figures come from the
journals (Paso 3.4, the new venv built before the stop, apart from Etapa 3); medians are
printed with each size's ratio to the first size. `cores busy` is the machine's CPU use inside
the downtime (/proc/stat sampled every 0.2 s while the run goes on: 2.0 is both cores of a 2-core
machine full), so a ratio the machine's cores cap is told from one the procedure's own waits make.
`bare restart` is the floor of any downtime on that fleet: after each run, the app's services
stopped and started on every host at once as a bare script does it (`ssh host supervisorctl stop
…`, then `start …`) and each host's health URL polled until 200; seconds from the first stop to
the last 200. Nothing asserts a time.
Runs as root (the fleet needs mount namespaces); leaves the sandbox with a single host again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from rollbook import sandbox
from rollbook.core import timeline
from rollbook.core.config import environments_dir
from rollbook.core.journal import read_journal
from rollbook.record.closing import etapa_durations
from rollbook.sandbox import fleet, instance
from rollbook.sandbox.layout import load_layout

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--env=fleet-bench",
    "--reason=benchmark",
    "--severity=ALTO",
    "--approved-by=Tomás Torres",
    "-q",
]
KEYS = (
    "total",
    "downtime",
    "cores busy",
    "bare restart",
    "paso3.4",
    "etapa2",
    "etapa3",
    "etapa5",
    "etapa6",
)
TICK = 0.2  # s between two reads of /proc/stat


def busy_jiffies() -> int:
    """The whole machine's CPU time so far, idle and iowait left out (/proc/stat's cpu line)."""
    user, nice, system, _idle, _iowait, *rest = map(
        int, Path("/proc/stat").read_text().split()[1:9]
    )
    return user + nice + system + sum(rest)


class CpuSampler(threading.Thread):
    """(wall clock, busy jiffies) every TICK seconds until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.time(), busy_jiffies()))
            self.done.wait(TICK)

    def cores_between(self, start: str | None, end: str | None) -> float:
        """Cores busy on average from `start` to `end` (journal timestamps)."""
        if start is None or end is None:
            return 0.0
        first, last = (
            datetime.fromisoformat(start).timestamp(),
            datetime.fromisoformat(end).timestamp(),
        )
        inside = [s for s in self.samples if first <= s[0] <= last]
        if len(inside) < 2:
            return 0.0
        (t0, j0), (t1, j1) = inside[0], inside[-1]
        return (j1 - j0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)


def bench_environments(folder: Path) -> dict[str, str]:
    """fleet.yaml with every host restarted at once, in a folder of its own."""
    (folder / "fleet-bench.yaml").write_text(
        f"name: fleet-bench\nextends: {environments_dir() / 'fleet.yaml'}\n"  # this instance's
        "services: {restart: all}\n",
        encoding="utf-8",
    )
    return {**os.environ, "ROLLBOOK_ENVIRONMENTS": str(folder)}


def bare_restart(count: int) -> float:
    """The app's services stopped and started on every app host at once, as a bare script does
    it, until each host's health URL answers 200: seconds."""
    layout = load_layout()
    image = fleet.fleet_layout(layout)
    names = image.env.services.app
    ctl = [image.supervisorctl, "-c", str(image.supervisor_conf)]
    on = fleet.hosts(layout, count)
    assert image.env.health.unix_socket is not None  # the fleet's gunicorn listens on one

    def answers(host: fleet.AppHost) -> None:
        socket = fleet.real_path(image, host, Path(image.env.health.unix_socket or ""))
        deadline = time.monotonic() + 60
        while fleet.socket_status(socket, image.env.health.url, 2) != "200":
            if time.monotonic() > deadline:
                sys.exit(f"{host.name}'s health URL did not answer 200 within 60 s of its start")
            time.sleep(0.1)

    def everywhere(action: Callable[[fleet.AppHost], object]) -> None:
        with ThreadPoolExecutor(len(on)) as pool:
            list(pool.map(action, on))

    started = time.monotonic()
    everywhere(
        lambda h: subprocess.run(h.ssh(*ctl, "stop", *names), check=True, capture_output=True)
    )
    everywhere(
        lambda h: subprocess.run(h.ssh(*ctl, "start", *names), check=True, capture_output=True)
    )
    everywhere(answers)
    return time.monotonic() - started


def one_run(report_dir: Path, environ: dict[str, str], size: int) -> dict[str, float]:
    sandbox.reset()
    before = set(report_dir.iterdir())
    sampler = CpuSampler()
    sampler.start()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "features/rollback.feature",
            *ARGS,
            f"--report-dir={report_dir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )
    sampler.done.set()
    sampler.join()
    if done.returncode != 0:
        sys.exit(f"the fleet rollback failed:\n{done.stdout[-3000:]}")
    [folder] = set(report_dir.iterdir()) - before
    events: list[dict[str, Any]] = list(read_journal(folder / "journal.jsonl"))
    figures = dict.fromkeys(KEYS, 0.0)
    figures["total"] = timeline.seconds_between(events[0]["ts"], events[-1]["ts"]) or 0.0
    figures["downtime"] = timeline.downtime(events) or 0.0
    figures["cores busy"] = sampler.cores_between(
        timeline.services_stop_time(events), timeline.back_time(events)
    )
    for etapa, seconds in etapa_durations(events).items():
        if etapa in figures:
            figures[etapa] = seconds
    # Paso 3.4 (app.force_reinstall: new_venv) builds before the stop: apart from Etapa 3's time
    built = timeline.paso_results(events).get("3.4", {}).get("duration", 0.0)
    figures["paso3.4"], figures["etapa3"] = float(built), figures["etapa3"] - float(built)
    figures["bare restart"] = bare_restart(size)
    return figures


def render(results: dict[int, list[dict[str, float]]]) -> str:
    sizes = list(results)
    head = " | ".join(f"{n} host{'s' if n > 1 else ''} (s)" for n in sizes)
    ratios = " | ".join(f"{n} / {sizes[0]}" for n in sizes[1:])
    rows = [f"| measure | {head} | {ratios} |", "|---" * (2 * len(sizes)) + "|"]
    for key in KEYS:
        medians = [statistics.median(r[key] for r in results[n]) for n in sizes]
        cells = " | ".join(f"{m:.1f}" for m in medians)
        shares = " | ".join(f"{m / medians[0]:.2f}" if medians[0] else "-" for m in medians[1:])
        rows.append(f"| {key} | {cells} | {shares} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--markdown", type=Path, help="write the table into this file")
    parser.add_argument("--journals", type=Path, help="keep each run's journal in this folder")
    options = parser.parse_args()
    instance.activate(instance.current())  # $ROLLBOOK_SANDBOX_INSTANCE: its files and ports
    sandbox.up()
    results: dict[int, list[dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            environ = bench_environments(Path(tmp))
            reports = Path(tmp) / "reports"
            reports.mkdir()
            # the sizes alternate run by run: a machine that slows down meanwhile slows both
            for n in range(options.runs):
                for size in options.hosts:
                    fleet.up(load_layout(), size)  # 1 too: one app host over SSH, not local
                    results.setdefault(size, []).append(one_run(reports, environ, size))
                    if options.journals:
                        options.journals.mkdir(parents=True, exist_ok=True)
                        [newest] = sorted(reports.iterdir(), key=lambda f: f.stat().st_mtime)[-1:]
                        shutil.copy(
                            newest / "journal.jsonl", options.journals / f"{size}-{n + 1}.jsonl"
                        )
                    figures = results[size][-1]
                    print(
                        f"{size} hosts, run {n + 1}: total {figures['total']:.1f} s, "
                        f"downtime {figures['downtime']:.1f} s",
                        flush=True,
                    )
    finally:
        sandbox.up(app_hosts=1)
    table = render(results)
    print(table)
    if options.markdown:
        options.markdown.write_text(
            f"Fleet rollback, {options.runs} runs per size, machine: {os.cpu_count()} cores.\n"
            f"Command: `.venv/bin/python bench/fleet_rollback.py --hosts "
            f"{' '.join(map(str, options.hosts))} --runs {options.runs}`\n\n{table}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
