"""What serves, observed: a process's start on the host's boot clock and the deleted app files it
still maps (real processes on local://, a service manager that names their pid)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rollbook.actions import serving
from rollbook.actions.web import Answer
from rollbook.core.config import Environment, load_environment
from rollbook.core.host import Host
from tests.unit.local_run import local_run

HOLD = (
    "import mmap, sys, time; f = open(sys.argv[1], 'rb'); "
    "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); print('mapped', flush=True); "
    "time.sleep(60)"
)


@dataclass
class OnePid:
    """A service manager as far as `observe` asks it: the service's main pid."""

    pid: int

    def pids(self, name: str) -> list[int]:
        return [self.pid]


@pytest.fixture
def mapping(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    library = tmp_path / "venv" / "lib" / "_ext.so"  # under the environment's venv
    library.parent.mkdir(parents=True)
    library.write_bytes(b"\0" * 4096)
    held = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(library)], stdout=subprocess.PIPE, text=True
    )
    assert held.stdout is not None and held.stdout.readline().strip() == "mapped"
    yield held, library
    held.kill()
    held.wait()


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Host, Environment]:
    """local:// and the unit environment (app path and venv under tmp_path)."""
    return local_run(tmp_path, monkeypatch).site.first_host("app"), load_environment("unit")


def test_a_process_started_before_the_restore_is_stale_and_one_after_is_fresh(
    where: tuple[Host, Environment], mapping: tuple[subprocess.Popen[str], Path]
) -> None:
    host, env = where
    held, _ = mapping
    time.sleep(0.05)
    after_start = serving.host_uptime(host)
    seen = serving.observe(host, env, OnePid(held.pid), "web")
    assert list(seen.started) == [held.pid]
    ok, said = serving.fresh_since(seen, after_start)
    assert not ok and f"pid {held.pid} started" in said and "before" in said
    ok, said = serving.fresh_since(seen, seen.started[held.pid] - 1.0)
    assert ok, said


def test_a_process_mapping_a_deleted_app_file_is_named(
    where: tuple[Host, Environment], mapping: tuple[subprocess.Popen[str], Path]
) -> None:
    host, env = where
    held, library = mapping
    assert serving.mapped_deleted(host, env, [held.pid]) == ({}, ())
    library.unlink()  # pip replaced the package: the process still runs the old file
    assert serving.mapped_deleted(host, env, [held.pid]) == ({held.pid: [str(library)]}, ())
    seen = serving.observe(host, env, OnePid(held.pid), "web")
    ok, said = serving.fresh_since(seen, 0.0)
    assert not ok and f"pid {held.pid} maps deleted files ({library})" in said


def test_a_service_with_no_process_is_not_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    gone = subprocess.Popen(["true"])
    gone.wait()
    seen = serving.observe(
        run.site.first_host("app"), load_environment("unit"), OnePid(gone.pid), "web"
    )
    assert serving.fresh_since(seen, 0.0) == (False, "web: no process found")


def test_an_answer_is_the_same_by_status_and_by_a_body_that_was_stable() -> None:
    before = Answer(200, "a" * 64)
    assert Answer(200, "a" * 64).same_as(before)
    assert not Answer(200, "b" * 64).same_as(before)  # the other release's page
    assert not Answer(500, "a" * 64).same_as(before)
    assert Answer(200, "b" * 64).same_as(Answer(200))  # a body that changed between two reads
    assert Answer.recorded(503) == Answer(503)  # a journal from before bodies were kept
    assert Answer.recorded({"status": 200, "body": "c" * 64}) == Answer(200, "c" * 64)


def test_a_deleted_file_is_named_when_the_venv_is_reached_through_a_symbolic_link(
    where: tuple[Host, Environment], mapping: tuple[subprocess.Popen[str], Path]
) -> None:
    """The process maps the real path; app.venv names a link to it (a release-switching layout)."""
    host, env = where
    held, library = mapping
    link = library.parents[2] / "current-venv"
    link.symlink_to(library.parents[1])
    linked = env.model_copy(update={"app": env.app.model_copy(update={"venv": str(link)})})
    library.unlink()
    assert serving.mapped_deleted(host, linked, [held.pid]) == ({held.pid: [str(library)]}, ())
