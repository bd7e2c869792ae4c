"""Progress of long work: real processes reading and writing files on `local://`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rollbook.core import progress
from rollbook.core.host import Host
from rollbook.core.journal import read_journal
from rollbook.core.progress import Progress
from tests.unit.local_run import local_host

READER = """import sys, time
with open(sys.argv[1], "rb") as f:
    while f.read(int(sys.argv[2])):
        time.sleep(float(sys.argv[3]))
    time.sleep(0.3)
"""


def read_followed(
    tmp_path: Path, megabytes: int, pause: float, expected: float | None = None
) -> tuple[Host, list[str]]:
    """A real process reads a backup of `megabytes` MB, 1 MB each `pause` s, while Progress
    follows it: the host and the lines it said."""
    backup = tmp_path / "backup.sql"
    backup.write_bytes(b"x" * megabytes * 2**20)
    host = local_host(tmp_path / "run")
    said: list[str] = []
    host.policy.progress = said.append
    reader = subprocess.Popen([sys.executable, "-c", READER, str(backup), str(2**20), str(pause)])
    with Progress.reading(
        host, "psql backup", str(backup), stall=60, interval=0.05, expected=expected
    ):
        reader.wait(timeout=30)
    return host, said


def test_a_reader_is_followed_in_percent_with_an_eta(tmp_path: Path) -> None:
    host, said = read_followed(tmp_path, 8, 0.25)
    shares = [int(line.split("%")[0].rsplit(" ", 1)[-1]) for line in said if "%" in line]
    assert len(shares) >= 3 and shares == sorted(shares) and shares[-1] >= 80, said
    assert all("de 8 MB" in line for line in said) and any("ETA" in line for line in said)
    events = [e for e in read_journal(host.policy.journal.path) if e["event"] == "progress"]
    assert [e["bytes"] for e in events] == sorted(e["bytes"] for e in events)
    assert all(e["total"] == 8 * 2**20 and not e["stall"] for e in events)


def test_a_file_that_stops_moving_is_said_once_before_any_timeout(tmp_path: Path) -> None:
    backup = tmp_path / "backup.sql"
    backup.write_bytes(b"x" * 2**20)
    host = local_host(tmp_path / "run")
    said: list[str] = []
    host.policy.progress = said.append
    stuck = subprocess.Popen([sys.executable, "-c", READER, str(backup), "1000", "5"])
    try:
        with Progress.reading(host, "psql backup", str(backup), stall=0.5, interval=0.05):
            while not any("sin avance" in line for line in said) and stuck.poll() is None:
                time.sleep(0.1)
    finally:
        stuck.kill()
    warnings = [line for line in said if "sin avance" in line]
    assert len(warnings) == 1 and "WARNING: psql backup" in warnings[0], said


def test_a_writer_is_followed_in_bytes(tmp_path: Path) -> None:
    host = local_host(tmp_path / "run")
    out = tmp_path / "dump.sql.partial"
    out.write_bytes(b"y" * 3 * 2**20)
    progress = Progress(host, "pg_dump app", str(out), None, stall=60)
    assert progress.measure() == 3 * 2**20
    assert progress.line(3 * 2**20, 2.0) == "pg_dump app: 3 MB escritos, 2 s, 2 MB/s"


def test_the_trial_restores_prediction_is_said_first_and_beside_each_line(tmp_path: Path) -> None:
    host, said = read_followed(tmp_path, 4, 0.2, expected=12.4)
    assert said[0] == "  psql backup: previsto 12 s por la restauración de prueba (Paso 1.3)"
    assert len(said) > 1 and all(line.endswith("(previsto 12 s)") for line in said[1:]), said
    dump = Progress(host, "pg_dump app", "dump.sql", None, stall=60, expected=30.0, bound=True)
    assert dump.line(2**20, 2.0) == "pg_dump app: 1 MB escritos, 2 s, 0 MB/s (previsto ≤ 30 s)"


def test_a_watched_window_says_how_far_it_is() -> None:
    said: list[str] = []
    start = time.monotonic()
    progress.wait(said.append, "observación de logs", 0.35, every=0.1)
    assert time.monotonic() - start >= 0.35  # the whole window, whatever it said
    shares = [int(line.split("%")[0].rsplit(" ", 1)[-1]) for line in said]
    assert said and all(line.startswith("  observación de logs: ") for line in said), said
    assert shares == sorted(shares) and shares[0] > 0 and shares[-1] < 100, said


def test_a_pip_install_is_followed_by_packages_collected_then_installed(tmp_path: Path) -> None:
    """pip's log says what it collected; each installed package's .dist-info is written anew
    (with --force-reinstall too): four packages, two of them already there before it started."""
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "old-1.0.dist-info").mkdir(parents=True)  # before the install: not counted
    log = tmp_path / "pip.log"
    log.write_text("2026-11-28T10:00:00,000 Processing /wh/earlier-1.0.whl\n")  # an earlier run
    host = local_host(tmp_path / "run")
    said: list[str] = []
    host.policy.progress = said.append
    time.sleep(1.1)  # the host's clock has a one-second grain
    with progress.PipProgress(host, str(log), str(venv), 4, stall=60, interval=0.05):
        for name in ("a", "b", "c", "d"):
            with log.open("a") as handle:
                handle.write(f"2026-11-29T16:00:44,550 Processing /wh/{name}-1.0.whl\n")
            time.sleep(0.3)
        for name in ("a", "b", "c", "d"):
            (site / f"{name}-1.0.dist-info").mkdir()
            time.sleep(0.3)
    assert any("recogidos 4 de 4, instalados 0 de 4 (50%)" in line for line in said), said
    assert any("instalados 2 de 4 (75%)" in line for line in said), said
    assert any("ETA" in line for line in said) and "(100%)" in said[-1]
    events = [e for e in read_journal(host.policy.journal.path) if e["event"] == "progress"]
    assert events and events[-1]["total"] == 8 and events[-1]["what"] == "pip install"
