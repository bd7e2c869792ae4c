"""The service managers answer "which of these run" in one question, read from the manager's own
output: supervisorctl's `status` lines (a group's processes under the group's name) and
systemctl's `is-active` lines."""

import os
from pathlib import Path

import pytest

from rollbook.core.journal import read_journal
from rollbook.services.supervisor import Supervisor
from rollbook.services.systemd import Systemd
from tests.unit.local_run import local_host

STATUS = """gunicorn                         RUNNING   pid 4711, uptime 0:03:12
celery                           STOPPED   Dec 05 09:14 PM
web:web_00                       RUNNING   pid 4712, uptime 1 day, 0:00:03
beat: ERROR (no such process)
"""


def _tool(folder: Path, name: str, output: str) -> str:
    """A stand-in for the manager's command line tool: prints `output`, exits 3 like both do
    when something asked about is not running."""
    tool = folder / name
    tool.write_text(f"#!/bin/sh\ncat <<'END'\n{output}END\nexit 3\n")
    tool.chmod(0o755)
    return str(tool)


def test_supervisor_names_the_running_programs_from_one_status(tmp_path: Path) -> None:
    host = local_host(tmp_path / "run")
    manager = Supervisor(host, _tool(tmp_path, "supervisorctl", STATUS))
    names = ["gunicorn", "celery", "web", "beat", "nginx"]
    assert manager.running(names) == ["gunicorn", "web"]
    assert manager.states(names) == {"gunicorn": "RUNNING", "celery": "STOPPED",
                                     "web": "RUNNING", "beat": "ERROR", "nginx": ""}  # fmt: skip
    commands = [e["argv"] for e in read_journal(host.executor.journal.path)
                if e["event"] == "command"]  # fmt: skip
    assert [argv[1:] for argv in commands] == [["status", *names]] * 2
    assert manager.running([]) == []


def test_systemd_names_the_active_units_from_one_is_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "systemctl", "active\ninactive\nfailed\nactive\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    manager = Systemd(local_host(tmp_path / "run"))
    assert manager.running(["gunicorn", "celery", "beat", "nginx"]) == ["gunicorn", "nginx"]
