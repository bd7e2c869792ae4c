"""Issue 8 on the real sandbox: a rollback of three app hosts over real SSH on loopback, through
the Ansible inventory (rolling restart) and through ssh:// specs with a failure on one host that
§9 recovers on all of them."""

import itertools
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.sandbox.fleet import AppHost, fleet_layout, hosts
from rollbook.sandbox.layout import load_layout
from tests.e2e.sandbox_state import INCIDENT, dump, run_feature

pytestmark = pytest.mark.e2e
APP_HOSTS = 3


@pytest.fixture(scope="module")
def fleet(sandbox_up: None) -> Iterator[list[AppHost]]:
    """Three app hosts at the start state; the single host again afterwards (other tests)."""
    sandbox.reset()
    sandbox.up(app_hosts=APP_HOSTS)
    yield hosts(load_layout(), APP_HOSTS)
    sandbox.up(app_hosts=1)


def on_host(host: AppHost, *argv: str) -> str:
    """A command run on the app host over SSH, as its own user (what the host itself sees)."""
    done = subprocess.run(host.ssh(*argv), capture_output=True, text=True, check=True)
    return done.stdout.strip()


def host_state(host: AppHost) -> tuple[str, str, str]:
    """(checked-out commit, supervisorctl status, health answer) on the host."""
    image = fleet_layout(load_layout())
    commit = on_host(host, "git", "-C", str(image.app), "rev-parse", "HEAD")
    status = on_host(host, image.supervisorctl, "-c", str(image.supervisor_conf), "status")
    health = on_host(host, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                     "--unix-socket", str(image.env.health.unix_socket),
                     image.env.health.url)  # fmt: skip
    states = " ".join(sorted(" ".join(line.split()[:2]) for line in status.splitlines()))
    return commit, states, health


def incident(env: str) -> list[str]:
    return [f"--env={env}", *INCIDENT[1:]]


def test_rollback_of_three_hosts_through_the_ansible_inventory(
    fleet: list[AppHost], tmp_path: Path
) -> None:
    image = fleet_layout(load_layout())
    result = run_feature(tmp_path, *incident("fleet"))
    assert result.outcome == "ROLLBACK COMPLETADO", dump(result)
    stable = result.facts()["target"]["tag"]
    for host in fleet:
        _commit, status, health = host_state(host)
        tag = on_host(host, "git", "-C", str(image.app), "describe", "--tags", "--exact-match")
        assert tag == stable, host.name
        assert status == "celery RUNNING gunicorn RUNNING" and health == "200", (host.name, status)
    # every Paso of Etapa 3 ran on the three hosts, each host's result journaled
    results = [e for e in result.journal() if e["event"] == "host_result"]
    for paso in ("2.2", "3.1", "3.2", "3.3", "5.1"):
        on = {e["host"].split("?")[0] for e in results if e["paso"] == paso and e["ok"]}
        assert on == {f"ansible://{h.name}" for h in fleet}, (paso, on)
    # rolling restart: a host's web start began after the previous host passed its health gate
    web = [e for e in results if e["paso"] == "5.1"]
    for before, after in itertools.pairwise(web):
        began = datetime.fromisoformat(after["ts"]).timestamp() - after["seconds"]
        assert began >= datetime.fromisoformat(before["ts"]).timestamp() - 0.05
    assert sorted(result.facts()["web_answer"]["hosts"].values()) == [200] * APP_HOSTS


def test_failure_on_one_host_is_recovered_on_all(fleet: list[AppHost], tmp_path: Path) -> None:
    sandbox.reset()
    image = fleet_layout(load_layout())
    before = {host.name: host_state(host) for host in fleet}
    # app2 cannot reach the git server: its Paso 3.1 fails, the two others have checked out
    broken = fleet[1]
    on_host(broken, "git", "-C", str(image.app), "remote", "set-url", "origin",
            "/nonexistent/iact-backend.git")  # fmt: skip
    result = run_feature(tmp_path, *incident("fleet-ssh"))
    assert result.outcome == "FALLIDO — ESTADO PREVIO RESTAURADO", dump(result)
    assert result.pasos()["3.1"] == "failed"
    results = {
        e["host"].split("@")[0].removeprefix("ssh://"): e["ok"]
        for e in result.journal()
        if e["event"] == "host_result" and e["paso"] == "3.1"
    }
    assert results == {"rollbook-app1": True, "rollbook-app2": False, "rollbook-app3": True}
    # §9 put the code back on the hosts that had changed it, and every host is as before
    recovered = [e for e in result.journal() if e["event"] == "command" and e["paso"] == "9.1"]
    checkouts = {e["host"] for e in recovered if e["argv"][3:4] == ["checkout"]}
    assert len(checkouts) == APP_HOSTS
    assert {host.name: host_state(host) for host in fleet} == before
