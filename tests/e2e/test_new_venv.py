"""`app.force_reinstall: new_venv` (the default) on the real sandbox where the app's venv cannot
take a second one beside it: Paso 3.4 says why and Paso 3.2 reinstalls in place with the
procedure's command; §9 renames the old venv back under restarted processes. The default's
own rollback (the new venv built and renamed in) is tests/e2e/test_rollback.py's."""

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollbook.sandbox.variant import write_variant as environments
from tests.e2e.sandbox_state import (
    INCIDENT,
    ROOT,
    damaged_files,
    dump,
    env,
    freeze,
    interpreters,
    ledger_record,
    run_feature,
    served,
    short_waits,
    since_boot,
    stale_processes,
    state,
)

pytestmark = pytest.mark.e2e


def test_a_venv_behind_a_symbolic_link_is_reinstalled_in_place_saying_why(
    sandbox_reset: None, tmp_path: Path
) -> None:
    live = env().app.venv.rstrip("/")
    link = tmp_path / "app-venv"
    link.symlink_to(live)

    def linked(data: dict[str, Any]) -> None:
        data["app"]["venv"] = str(link)

    done = run_feature(tmp_path, *INCIDENT, extra_env=environments(tmp_path, linked))
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    pasos, journal = done.pasos(), done.journal()
    assert pasos["3.4"] == "skipped" and pasos["3.2"] == "passed", dump(done)
    why = done.facts()["venv_staged"]["hosts"]["local://"]["in_place"]
    assert why.startswith(f"app.venv {link} is a symbolic link"), why
    [skipped] = [
        e["detail"] for e in journal if e["event"] == "paso_finished" and e["paso"] == "3.4"
    ]
    assert why in skipped, skipped
    # nothing was built beside either path; Paso 3.2 ran the procedure's command in place
    assert not list(tmp_path.glob("app-venv.*")) and not list(Path(live).parent.glob("venv.*"))
    installs = [
        e
        for e in journal
        if e["event"] == "command"
        and e["paso"] == "3.2"
        and Path(e["argv"][0]).name == "pip"
        and e["argv"][1] == "install"
    ]
    assert [(e["argv"][0], "--force-reinstall" in e["argv"]) for e in installs] == [
        (f"{link}/bin/pip", True)
    ]
    # ... saying how far it was, as a restore does (issue 20; a new venv's install of the same
    # set, without --force-reinstall or bytecode, ends before the first question, 2 s in)
    assert [
        e
        for e in journal
        if e["event"] == "progress" and e["what"] == "pip install" and e["paso"] == "3.2"
    ]
    assert "pip install: recogidos " in done.output
    assert freeze() == sorted(ledger_record("sandbox", done.facts()["target"]["tag"])["packages"])
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert f"local://: sin venv nuevo ({why}): reinstalado en su lugar" in markdown.read_text()
    assert not stale_processes(since_boot(installs[0]["end"]))
    assert "1.4.0" in served(), served()


def test_section_9_renames_the_old_venv_back_under_restarted_processes(
    sandbox_reset: None, tmp_path: Path
) -> None:
    live = env().app.venv.rstrip("/")
    options = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rollbook"), "sandbox", "fault", "release-cannot-boot"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    ).stdout.split()
    # a file of the live venv that is not what its wheel installed (same size, other bytes)
    [six] = Path(live).glob("lib/python*/site-packages/six.py")
    text, whole = six.read_text(), damaged_files(live)
    assert "six==1.17.0" not in whole, whole
    try:
        six.write_text(text.replace("Benjamin", "benjamin", 1))
        assert damaged_files(live) == whole | {"six==1.17.0": ["six.py (differs)"]}
        before, inode = state(), os.stat(live).st_ino
        done = run_feature(
            tmp_path,
            *INCIDENT,
            *[o for o in options if o.startswith("--")],
            extra_env=environments(tmp_path, short_waits),
        )
        left = damaged_files(live)
    finally:  # the venv a reset puts back holds it: the start state's file again
        for copy in Path(live).parent.glob(f"{Path(live).name}*/lib/python*/site-packages/six.py"):
            copy.write_text(text)
    assert done.outcome == "FALLIDO — ESTADO PREVIO RESTAURADO", dump(done)
    assert done.pasos()["5.1"] == "failed", dump(done)
    # Paso 3.4 copied the live venv beside it and installed the target's requirements there (no
    # ledger record for the fault's release): what an install in place leaves (the defective
    # release's humanize) is in the copy already; six, whose file differed from its RECORD, was
    # reinstalled from its wheel
    staged = f"{live}.rollbook-{done.folder.name}"
    built_here = done.facts()["venv_staged"]["hosts"]["local://"]
    assert built_here == {"reinstalled": ["six==1.17.0"], "left": []}, built_here
    built = [
        e["argv"]
        for e in done.journal()
        if e["event"] == "command" and e["paso"] == "3.4" and e["mutating"]
    ]
    assert built[0] == ["cp", "-a", "--", live, staged], built
    [forced] = [a for a in built if "--force-reinstall" in a]
    assert forced[:4] == [f"{staged}/bin/python", "-m", "pip", "install"], forced
    assert forced[forced.index("--force-reinstall") :] == [
        "--force-reinstall",
        "--no-deps",
        *env().app.pip_options,
        "six==1.17.0",
    ], forced
    assert "reinstalling six==1.17.0: a file differs from what its wheel installed" in done.output
    assert left == whole | {"six==1.17.0": ["six.py (differs)"]}  # §9: the venv as it was
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert f"§9 devolvió el anterior a {live} (local://)" in markdown.read_text()
    assert (
        "local://: reinstalados desde su wheel por un archivo distinto de su RECORD: six==1.17.0"
    ) in markdown.read_text()
    assert "el anterior queda en" not in markdown.read_text()
    # the very folder that ran before, not a reinstall: renamed back; nothing left beside it
    assert os.stat(live).st_ino == inode
    assert not list(Path(live).parent.glob(f"{Path(live).name}.*-{done.folder.name}"))
    assert state().restored_to(before), state().differences(before)
    restarted = done.restarted_at()
    assert restarted is not None and not stale_processes(restarted)
    programs = interpreters()
    assert programs and all(p.startswith(f"{live}/bin/") for p in programs.values()), programs
