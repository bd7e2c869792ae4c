"""The service managers answer "which of these run" in one question, read from the manager's own
output: supervisorctl's `status` lines (a group asked as `group:*`) and systemctl's `is-active`
lines (asked one by one where one line per unit cannot hold)."""

import os
from pathlib import Path

import pytest

from rollbook.core.host import Host
from rollbook.core.journal import read_journal
from rollbook.services.supervisor import Supervisor
from rollbook.services.systemd import Systemd
from tests.unit.local_run import local_host

# as supervisorctl 4 prints them for `status gunicorn celery web:* beat nginx`
STATUS = """gunicorn                         RUNNING   pid 4711, uptime 0:03:12
celery                           STOPPED   Dec 05 09:14 PM
web:web_00                       RUNNING   pid 4712, uptime 1 day, 0:00:03
web:web_01                       STOPPED   Dec 05 09:14 PM
beat: ERROR (no such process)
nginx: ERROR (no such process)
"""
# systemctl is-active: a line per unit, in order; an error ends the answer
SYSTEMCTL = """shift
for unit in "$@"; do
  case "$unit" in
    gunicorn|nginx) echo active ;;
    missing) echo "Failed to get unit file state for $unit" >&2; exit 1 ;;
    *) echo inactive ;;
  esac
done
exit 3
"""


def _tool(folder: Path, name: str, script: str) -> str:
    tool = folder / name
    tool.write_text(f"#!/bin/sh\n{script}")
    tool.chmod(0o755)
    return str(tool)


def _asked(host: Host) -> list[list[str]]:
    events = read_journal(host.policy.journal.path)
    return [e["argv"] for e in events if e["event"] == "command"]


def test_supervisor_names_the_running_programs_from_one_status(tmp_path: Path) -> None:
    host = local_host(tmp_path / "run")
    printed = f"cat <<'END'\n{STATUS}END\nexit 3\n"  # 3: something asked about is not running
    manager = Supervisor(host, _tool(tmp_path, "supervisorctl", printed))
    names = ["gunicorn", "celery", "web:*", "beat", "nginx"]
    assert manager.running(names) == ["gunicorn", "web:*"]
    states = {
        "gunicorn": "RUNNING",
        "celery": "STOPPED",
        "web:*": "RUNNING",
        "beat": "ERROR",
        "nginx": "ERROR",
    }
    assert manager.states(names) == states
    assert [argv[1:] for argv in _asked(host)] == [["status", *names]] * 2
    assert manager.running([]) == []


def test_systemd_names_the_active_units_from_one_is_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "systemctl", SYSTEMCTL)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    host = local_host(tmp_path / "run")
    manager = Systemd(host)
    assert manager.running(["gunicorn", "celery", "nginx"]) == ["gunicorn", "nginx"]
    assert len(_asked(host)) == 1
    # an error cuts the answer short: each unit is asked alone
    assert manager.running(["gunicorn", "missing", "nginx"]) == ["gunicorn", "nginx"]
    assert len(_asked(host)) == 1 + 1 + 3
