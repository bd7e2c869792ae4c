"""`app.force_reinstall: new_venv` on the real sandbox: Paso 3.4 builds the target's venv beside the
app's while it serves, Paso 3.2 renames it into place inside the downtime (no pip there), the
services run from the app's venv path; §9 renames the old venv back under restarted processes."""

import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rollbook.sandbox.variant import write_variant as environments
from tests.e2e.sandbox_state import (
    INCIDENT,
    ROOT,
    dump,
    env,
    freeze,
    ledger_record,
    run_feature,
    served,
    serving_processes,
    short_waits,
    stale_processes,
    state,
)

pytestmark = pytest.mark.e2e
DOWNTIME = ("2.2", "2.3", "3.0", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3", "4.4", "4.5")


def new_venv(data: dict[str, Any]) -> None:
    data["app"]["force_reinstall"] = "new_venv"


def interpreters() -> dict[int, str]:
    """pid → the program each serving process runs (its command line's first word, from /proc):
    a script's shebang names the venv whose packages it imports."""
    return {pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            for pid in serving_processes()}  # fmt: skip


def since_boot(iso: str) -> float:
    """A journal time as seconds since the machine booted (the clock of /proc/PID/stat)."""
    boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime "))  # fmt: skip
    return datetime.fromisoformat(iso).timestamp() - boot


def pip_freeze(venv: str) -> list[str]:
    done = subprocess.run([f"{venv}/bin/python", "-m", "pip", "freeze", "--all"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return sorted(done.stdout.split())


def test_the_new_venv_is_built_before_the_stop_and_renamed_in(
    sandbox_reset: None, tmp_path: Path
) -> None:
    live = env().app.venv.rstrip("/")
    before = freeze()
    done = run_feature(tmp_path, *INCIDENT, extra_env=environments(tmp_path, new_venv))
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    pasos, journal = done.pasos(), done.journal()
    assert pasos["3.4"] == "passed" and pasos["3.2"] == "passed", dump(done)
    order = [e["paso"] for e in journal if e["event"] == "paso_started"]
    assert order.index("3.4") < order.index("2.2"), order  # built while the app served
    in_downtime = [e["argv"] for e in journal if e["event"] == "command"
                   and e["paso"] in DOWNTIME and "pip" in Path(e["argv"][0]).name]  # fmt: skip
    assert not in_downtime, f"pip ran in the downtime: {in_downtime}"
    renames = [e["argv"] for e in journal if e["event"] == "command" and e["paso"] == "3.2"
               and e["mutating"]]  # fmt: skip
    assert len(renames) == 1 and renames[0][:2] == ["sh", "-c"], renames

    # the app's venv path holds the target's recorded set; the old one is kept, whole, beside it
    target = done.facts()["target"]["tag"]
    assert freeze() == sorted(ledger_record("sandbox", target)["packages"])
    aside = f"{live}.before-{done.folder.name}"
    assert pip_freeze(aside) == before
    assert not Path(f"{live}.rollbook-{done.folder.name}").exists()
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert f"el anterior queda en {aside}" in markdown.read_text()

    # its scripts name the app's venv path, and what serves started after the rename, from it
    named = [p.name for p in Path(live, "bin").iterdir()
             if p.is_file() and b".rollbook-" in p.read_bytes()]  # fmt: skip
    assert not named, f"scripts still naming the built folder: {named}"
    [switched] = [e["end"] for e in journal if e["event"] == "command" and e["paso"] == "3.2"
                  and e["mutating"]]  # fmt: skip
    assert not stale_processes(since_boot(switched))
    programs = interpreters()
    assert programs and all(p.startswith(f"{live}/bin/") for p in programs.values()), programs
    assert "1.4.0" in served(), served()


def test_section_9_renames_the_old_venv_back_under_restarted_processes(
    sandbox_reset: None, tmp_path: Path
) -> None:
    live = env().app.venv.rstrip("/")
    options = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rollbook"), "sandbox", "fault", "release-cannot-boot"],
        capture_output=True, text=True, check=True, env=os.environ,
    ).stdout.split()  # fmt: skip
    before, inode = state(), os.stat(live).st_ino
    done = run_feature(
        tmp_path, *INCIDENT, *[o for o in options if o.startswith("--")],
        extra_env=environments(tmp_path, lambda data: (new_venv(data), short_waits(data))),
    )  # fmt: skip
    assert done.outcome == "FALLIDO — ESTADO PREVIO RESTAURADO", dump(done)
    assert done.pasos()["5.1"] == "failed", dump(done)
    # no ledger record for the fault's release: its requirements, then what an install in place
    # leaves that they do not install (the defective release's humanize) at its version
    kept = done.facts()["venv_staged"]["hosts"]["local://"]["kept"]
    assert [line.split("==")[0] for line in kept] == ["humanize"], kept
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert f"§9 devolvió el anterior a {live} (local://)" in markdown.read_text()
    assert "el anterior queda en" not in markdown.read_text()
    # the very folder that ran before, not a reinstall: renamed back; nothing left beside it
    assert os.stat(live).st_ino == inode
    assert not list(Path(live).parent.glob(f"{Path(live).name}.*-{done.folder.name}"))
    assert state().restored_to(before), state().differences(before)
    restarted = done.restarted_at()
    assert restarted is not None and not stale_processes(restarted)
    programs = interpreters()
    assert programs and all(p.startswith(f"{live}/bin/") for p in programs.values()), programs
