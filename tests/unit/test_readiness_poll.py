"""Paso 5.1's readiness poll asks with short requests: a web service whose first request hangs
(it accepted the connection while it booted) costs the short bound, not health.timeout. A real
supervisord runs the web program; its first connection is held open, never answered."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.actions.app_services import READINESS_REQUEST, wait_web_answers
from rollbook.core.config import HealthConfig, ServicesConfig
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from tests.unit.local_run import local_run

BIN = Path(sys.executable).parent
# holds its first request without a word (a connection that asks nothing is not one); every
# later request gets 200
HANGS_FIRST = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(8)
held = []
while True:
    client, _ = server.accept()
    if not client.recv(4096):
        client.close()
    elif not held:
        held.append(client)
    else:
        client.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n"
                       b"Connection: close\\r\\n\\r\\nok")
        client.close()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def hanging_web(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """supervisord (its own unix socket) running `web`, the server above; shut down after."""
    port = free_port()
    (tmp_path / "web.py").write_text(HANGS_FIRST)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"""[unix_http_server]
file={tmp_path}/supervisor.sock
[supervisord]
pidfile={tmp_path}/supervisord.pid
logfile={tmp_path}/supervisord.log
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{tmp_path}/supervisor.sock
[program:web]
command={sys.executable} {tmp_path}/web.py {port}
autostart=false
startsecs=0
stdout_logfile={tmp_path}/web.log
redirect_stderr=true
""")
    subprocess.run([BIN / "supervisord", "-c", conf], check=True)
    try:
        yield conf, port
    finally:
        subprocess.run(
            [BIN / "supervisorctl", "-c", conf, "shutdown"], capture_output=True, check=False
        )


def with_web(run: Run, conf: Path, port: int) -> None:
    services = ServicesConfig(
        manager="supervisor",
        app=["web"],
        supervisor_conf=str(conf),
        supervisorctl=str(BIN / "supervisorctl"),
    )
    health = HealthConfig(url=f"http://127.0.0.1:{port}/health/", timeout=10.0)
    run.site.env = run.site.env.model_copy(update={"services": services, "health": health})


def test_a_hung_first_request_is_asked_again_after_the_short_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hanging_web: tuple[Path, int]
) -> None:
    conf, port = hanging_web
    run = local_run(tmp_path, monkeypatch)
    with_web(run, conf, port)
    subprocess.run(
        [BIN / "supervisorctl", "-c", conf, "start", "web"], check=True, capture_output=True
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # listening (a connection that asks nothing)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    assert wait_web_answers(run.site.first_host("app"), run.site.env) == 200
    asked = [
        e
        for e in read_journal(run.incident.journal.path)
        if e["event"] == "command" and e["argv"][0] == "curl"
    ]
    bounds = [e["argv"][e["argv"].index("--max-time") + 1] for e in asked]
    assert bounds == [f"{READINESS_REQUEST:g}"] * len(asked), bounds
    assert asked[0]["exit"] == 28, asked[0]  # curl: the bound ran out; the app was not given up
    assert asked[-1]["stdout"].split()[0] == "200"
    assert run.site.env.health.timeout > READINESS_REQUEST
