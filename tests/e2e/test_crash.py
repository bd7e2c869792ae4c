"""Crash safety: the runner SIGKILLed at each Etapa boundary and in the middle of the restore.

After each crash, the next rollback is refused (the unfinished incident holds the lock), and
rollback_of_rollback.feature puts back the pre-rollback state from that incident's journal.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rollbook.core.journal import read_journal
from rollbook.core.operations import SafetyDumpStarted, begun
from rollbook.sandbox.variant import fast_options, restoring
from rollbook.sandbox.variant import write_variant as environments
from tests.e2e import releases
from tests.e2e.reliability import record
from tests.e2e.sandbox_state import (
    INCIDENT,
    ROOT,
    Outcome,
    dump,
    env,
    fast_restoring,
    pytest_feature,
    run_feature,
    stale_processes,
    state,
)
from tests.e2e.test_zero_data_loss import least_loss, plant_rows

pytestmark = pytest.mark.e2e
LOCK = Path(env().database.backups) / ".rollbook-lock"

# crash point → (journal event, paso) that triggers the kill
POINTS = {
    "before Etapa 2": ("paso_started", "2.1"),
    "before Etapa 3": ("paso_started", "3.1"),
    "before Etapa 4": ("paso_started", "4.1"),
    "during the safety dump (Paso 4.0, the app serving)": ("intent", "safety-dump"),
    "during the restore (Paso 4.3)": ("intent", "4.3-restore"),
    "before Etapa 5": ("paso_started", "5.1"),
    "before Etapa 6": ("paso_started", "6.1"),
    "before Etapa 7": ("paso_started", "7.1"),
}


def fast_env(folder: Path) -> dict[str, str]:
    """The run's environment folder: the sandbox restoring its backup (the procedure as written),
    with Paso 3.2's fast path (one per crash)."""
    return environments(folder.parent, fast_restoring)


def triggered(journal: Path, event: str, paso: str) -> bool:
    if not journal.exists():
        return False
    for entry in read_journal(journal):  # a line still being written is left out
        if event == "intent" and paso == "4.3-restore":
            if entry["event"] == "intent" and entry["paso"] == "4.3" and "-f" in entry["argv"]:
                return True
        elif event == "intent" and paso == "safety-dump":  # Paso 4.0's, or 4.1's after the stop
            if (
                entry["event"] == "intent"
                and entry["paso"] in ("4.0", "4.1")
                and "pg_dump" in entry["argv"]
            ):
                return True
        elif entry["event"] == event and entry.get("paso") == paso:
            return True
    return False


def private_folders(folder: Path) -> list[Path]:
    """The run-private folders (its pgpass file) a run's journal says it made."""
    events = (json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines())
    return sorted({Path(e["path"]).parent for e in events if e["event"] == "private_file"})


def complete_dump(path: Path) -> bool:
    """A file named like a backup is a whole pg_dump (its completion line): an unfinished one is
    only ever PATH.partial."""
    return "-- PostgreSQL database dump complete" in path.read_text()[-512:]


def kill_at(report_dir: Path, event: str, paso: str, *, alone: bool = False) -> Path:
    """Start the rollback, SIGKILL its whole process group when the journal shows the trigger
    (`alone`: the runner only, its commands left running, as the OOM killer does). At once:
    the sandbox's restore takes about 0.1 s and the rest of its Paso about as long."""
    return kill_when(report_dir, lambda journal: triggered(journal, event, paso), alone=alone)


def kill_when(
    report_dir: Path,
    hit: Callable[[Path], bool],
    *args: str,
    feature: str = "features/rollback.feature",
    extra_env: dict[str, str] | None = None,
    alone: bool = False,
) -> Path:
    """Start `feature` (the rollback by default) in a folder of its own under `report_dir`,
    SIGKILL it when hit(its journal); `alone`: the runner only."""
    report_dir.mkdir(parents=True, exist_ok=True)
    before = set(report_dir.iterdir())
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            feature,
            *(args or INCIDENT),
            f"--report-dir={report_dir}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(extra_env or fast_env(report_dir))},
    )
    deadline = time.monotonic() + 300
    journal, killed = None, False
    try:
        while time.monotonic() < deadline and runner.poll() is None:
            folders = sorted(set(report_dir.iterdir()) - before)
            journal = folders[0] / "journal.jsonl" if folders else None
            if journal is not None and journal.exists() and hit(journal):
                break
            time.sleep(0.05)
        if alone:
            time.sleep(1.0)  # the command started
            os.kill(runner.pid, signal.SIGKILL)
            killed = True
    finally:  # whatever happened here, no run of this test outlives it
        if not killed:
            with contextlib.suppress(ProcessLookupError):  # a run that ended by itself
                os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
    assert journal is not None, "the run never started"
    assert not any(e["event"] == "outcome" for e in read_journal(journal)), (
        f"the run ended before its trigger: {journal}"
    )
    return journal.parent


def intent(paso: str, *words: str) -> Callable[[Path], bool]:
    """The journal shows a change of `paso` whose command line holds every one of `words`."""

    def hit(journal: Path) -> bool:
        return any(
            e["event"] == "intent"
            and e.get("paso") == paso
            and all(w in " ".join(e["argv"]) for w in words)
            for e in read_journal(journal)
        )

    return hit


def refused_then_restored(tmp_path: Path, folder: Path) -> Outcome:
    """The next rollback is refused (the killed run's incident is unfinished); §9 by hand."""
    refused = pytest_feature(tmp_path / "next", *INCIDENT, extra_env=fast_env(folder.parent))
    assert refused.returncode != 0
    assert f"has an unfinished rollback: incident {folder.name}" in refused.stderr
    return run_feature(
        tmp_path / "crashed",
        "--env=sandbox",
        f"--incident={folder.name}",
        "--operator=e2e",
        feature="features/rollback_of_rollback.feature",
        extra_env=fast_env(folder.parent),
    )


@pytest.mark.parametrize("point", list(POINTS))
def test_crash_then_restore_from_the_journal(
    sandbox_reset: None, tmp_path: Path, point: str
) -> None:
    before = state()
    folder = kill_at(tmp_path / "crashed", *POINTS[point])
    assert LOCK.exists()  # the unfinished incident holds the environment
    again = refused_then_restored(tmp_path, folder)
    back = state().restored_to(before)
    record(
        "crash",
        point,
        f"SIGKILL at {POINTS[point][0]} {POINTS[point][1]}",
        "refused (unfinished incident)",
        again.outcome,
        back and not LOCK.exists(),
    )
    assert again.outcome == "ESTADO PREVIO RESTAURADO", dump(again)
    assert back
    assert not LOCK.exists()
    dumps = Path(env().database.backups).glob("pre_rollback_*.sql")
    assert all(complete_dump(path) for path in dumps)
    dead = private_folders(folder)  # the killed run's pgpass folder: §9 removed it
    assert all(not path.exists() for path in dead), dead


def test_the_runner_killed_alone_leaves_its_command_which_section_9_stops_first(
    sandbox_reset: None, tmp_path: Path
) -> None:
    """A DBA's lock makes the safety dump's pg_dump wait (Paso 4.0's: the lock takes no
    transaction id); the runner alone is SIGKILLed (its pg_dump keeps waiting, then would write).
    §9 by hand stops that pg_dump before it acts."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rollbook"), "sandbox", "fault", "table-locked"],
        check=True,
        capture_output=True,
    )
    before = state()
    folder = kill_at(tmp_path / "crashed", "intent", "safety-dump", alone=True)
    try:
        assert dumps_of(folder), "the killed runner's pg_dump is not running"
        again = refused_then_restored(tmp_path, folder)
    finally:
        left = dumps_of(folder)
        for pid in left:  # never leave it behind, whatever the outcome
            os.kill(pid, signal.SIGKILL)
    stopped = [e["note"] for e in again.journal() if e["event"] == "dead_command"]
    back = state().restored_to(before)
    record(
        "crash",
        "runner alone SIGKILLed while the safety pg_dump waits",
        "SIGKILL of the runner only, a DBA lock holding its pg_dump",
        "refused (unfinished incident)",
        again.outcome,
        back and not left and bool(stopped),
    )
    assert again.outcome == "ESTADO PREVIO RESTAURADO", dump(again)
    assert not left, f"the dead run's pg_dump still runs after §9: pids {left}"
    assert any("pg_dump" in note and "stopped (SIGTERM)" in note for note in stopped), stopped
    actions = [e["action"] for e in again.journal() if e["event"] == "recovery_action"]
    assert actions[0] == "stop the dead run's unfinished commands", actions  # before any change
    assert back and not LOCK.exists()


def dumps_of(folder: Path) -> list[int]:
    """The processes writing the killed run's pre-rollback dump (pg_dump and its wrapper)."""
    events = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    started = [c.path for c in begun(events) if isinstance(c, SafetyDumpStarted)]
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            if any(a.endswith("pg_dump") for a in args[:6]) and any(
                path in arg for path in started for arg in args
            ):
                found.append(int(cmdline.parent.name))
    return found


def test_resume_continues_a_rollback_that_died_between_pasos(
    sandbox_reset: None, tmp_path: Path
) -> None:
    # killed inside Paso 4.4, which only reads (showmigrations): nothing half-made to fear
    folder = kill_at(tmp_path / "crashed", "paso_started", "4.4")
    resumed = run_feature(
        folder.parent,
        *INCIDENT,
        f"--incident={folder.name}",
        "--resume",
        extra_env=fast_env(folder.parent),
    )
    assert resumed.outcome == "ROLLBACK COMPLETADO", dump(resumed)
    skipped = next(e for e in resumed.journal() if e["event"] == "resumed")["skipped"]
    assert "4.3" in skipped and "4.4" not in skipped
    assert not LOCK.exists()


def test_resume_is_refused_after_a_crash_in_the_middle_of_a_change(
    sandbox_reset: None, tmp_path: Path
) -> None:
    folder = kill_at(tmp_path / "crashed", "intent", "4.3-restore")
    refused = pytest_feature(
        folder.parent,
        *INCIDENT,
        f"--incident={folder.name}",
        "--resume",
        extra_env=fast_env(folder.parent),
    )
    assert refused.returncode != 0
    assert "died in the middle of Paso 4.3" in refused.stderr
    assert LOCK.exists()  # still held by the unfinished incident
    # what the operator is told to do: §9 from the journal (it also removes the dead run's pgpass)
    dead = private_folders(folder)
    assert dead and all(path.exists() for path in dead)
    again = run_feature(
        folder.parent,
        "--env=sandbox",
        f"--incident={folder.name}",
        "--operator=e2e",
        feature="features/rollback_of_rollback.feature",
        extra_env=fast_env(folder.parent),
    )
    assert again.outcome == "ESTADO PREVIO RESTAURADO", dump(again)
    assert not LOCK.exists() and not [path for path in dead if path.exists()]


def section_9(incident: str) -> list[str]:
    """rollback_of_rollback.feature's arguments for `incident`, as the lock message gives them."""
    return ["--env=sandbox", f"--incident={incident}", "--operator=e2e"]


RECOVERY = "features/rollback_of_rollback.feature"


def test_a_killed_recovery_is_finished_by_the_next_one_the_lock_names(
    sandbox_reset: None, tmp_path: Path
) -> None:
    """The rollback dies in its restore; its §9 dies as it reloads the safety dump (the database
    dropped); the §9 the lock message names dies as it puts back the code; §9 asked for that dead
    §9 recovers the rollback (and says so): the pre-rollback state is back, served by fresh
    processes, and the dead recoveries' journals are sealed in its record."""
    before = state()
    reports = tmp_path / "crashed"
    rollback = kill_at(reports, "intent", "4.3-restore")
    first = kill_when(
        reports, intent("9.1", "createdb"), *section_9(rollback.name), feature=RECOVERY
    )
    refused = pytest_feature(tmp_path / "next", *INCIDENT, extra_env=fast_env(reports))
    assert refused.returncode != 0
    said = refused.stderr
    assert f"incident {first.name} " in said and f"recovery of incident {rollback.name}" in said
    assert f"--incident={rollback.name} " in said and f"--incident={first.name}" not in said
    second = kill_when(
        reports, intent("9.1", "git", "checkout"), *section_9(rollback.name), feature=RECOVERY
    )
    again = run_feature(
        reports, *section_9(second.name), feature=RECOVERY, extra_env=fast_env(reports)
    )
    back = state().restored_to(before)
    restarted = again.restarted_at()
    stale = stale_processes(restarted) if restarted is not None else ["§9 restarted nothing"]
    record(
        "crash",
        "§9 SIGKILLed in its reload, then in its package restore; §9 of that §9",
        "SIGKILL of §9 twice, then §9 asked for the killed §9's incident",
        "refused, names the rollback",
        again.outcome,
        back and not stale,
    )
    assert again.outcome == "ESTADO PREVIO RESTAURADO", dump(again)
    assert f"{second.name} was itself a §9 recovery of incident {rollback.name}" in again.output
    assert back, dump(again)
    assert not stale, stale
    assert not LOCK.exists()
    sealed = {e["incident"] for e in again.journal() if e["event"] == "journal_sealed"}
    assert sealed == {rollback.name, first.name, second.name}


def ways_back(folder: Path, kind: str) -> dict[str, str]:
    """The environment of a crash in a way back: swap's renames, or least_loss's reversal or
    row recovery (the deployed release then has an irreversible migration and new rows)."""
    if kind == "swap":
        return environments(folder, lambda data: (fast_options(data), restoring(data)))
    if kind == "recover":  # recreate: Paso 4.5 reads a copy of the safety dump, §9 drops it
        releases.deploy_irreversible_release()
        plant_rows()
        return environments(folder, lambda data: (least_loss(data), recreating(data)))
    return environments(folder, least_loss)


def recreating(data: dict) -> None:
    data["database"]["restore_strategy"] = "recreate"


WAYS_BACK = {
    "during swap's renames (Paso 4.3)": ("swap", intent("4.3", "RENAME")),
    "during Paso 3.0's reverse migrations": ("reverse", intent("3.0", "migrate")),
    "during Paso 4.5's row recovery": ("recover", intent("4.5", "CREATE SCHEMA")),
    # app.force_reinstall: new_venv, the default: the app's venv renamed aside, the new one in
    "after Paso 3.2 renamed the new venv in": (
        "reverse",
        lambda journal: triggered(journal, "paso_started", "3.3"),
    ),
}


@pytest.mark.parametrize("point", list(WAYS_BACK))
def test_a_kill_inside_a_way_back_is_undone_by_section_9(
    sandbox_reset: None, tmp_path: Path, point: str
) -> None:
    kind, hit = WAYS_BACK[point]
    variant = ways_back(tmp_path / "variant", kind)
    before, venv = state(), Path(env().app.venv.rstrip("/"))
    reports = tmp_path / "crashed"
    folder = kill_when(reports, hit, extra_env=variant)
    again = run_feature(reports, *section_9(folder.name), feature=RECOVERY, extra_env=variant)
    back = state().restored_to(before)
    restarted = again.restarted_at()
    stale = stale_processes(restarted) if restarted is not None else ["§9 restarted nothing"]
    record(
        "crash",
        point,
        "SIGKILL of the rollback's process group",
        "§9 by hand",
        again.outcome,
        back and not stale and not LOCK.exists(),
    )
    assert again.outcome == "ESTADO PREVIO RESTAURADO", dump(again)
    assert back, dump(again)
    assert not stale, stale
    assert not LOCK.exists()
    # Paso 3.4's new venv (before Etapa 2) removed, the venv that ran before at the app's path
    assert not list(venv.parent.glob(f"{venv.name}.*-{folder.name}"))
