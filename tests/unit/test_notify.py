"""Notifications through apprise: delivered in order, never an exception, always journaled."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rollbook.core.config import NotifyTarget, Person, load_environment
from rollbook.core.executor import Mode
from rollbook.core.redact import MASK
from rollbook.core.run import Run, RunOptions
from rollbook.core.state import Target
from rollbook.governance import incident_entry, notify
from rollbook.governance.notify import announce
from rollbook.lifecycle import closing_actions
from rollbook.record import closing

VARIABLE = "ROLLBACK_NOTIFY_URL"


class Receiver(ThreadingHTTPServer):
    """A webhook on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict] = []

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}/hooks/incidents"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_run(tmp_path: Path, monkeypatch, mode: Mode = Mode.EXECUTE) -> Run:
    monkeypatch.setenv("IACT_DB_PASSWORD", "not-a-real-password")
    env = load_environment("staging")
    env = env.model_copy(update={"notify": [*env.notify, NotifyTarget(url_env="SECOND_URL")]})
    options = RunOptions(env_name=env.name, report_dir=tmp_path, operator="tester")
    run = Run(options, env, mode, progress=lambda _: None)
    run.records.keep(
        Target("staging-deploy-20251117-1430", "a" * 40, 0, "the ledger's last validated")
    )
    return run


def events(run: Run, *names: str) -> list[dict]:
    return [e for e in run.incident.journal.events() if e["event"] in names]


def test_messages_arrive_in_order_with_the_procedure_text(
    tmp_path: Path, monkeypatch, receiver: Receiver
) -> None:
    monkeypatch.setenv(VARIABLE, receiver.url)
    monkeypatch.setenv("SECOND_URL", receiver.url.replace("/incidents", "/oncall"))
    run = make_run(tmp_path, monkeypatch)
    incident_entry.announce_start(run)
    closing_actions.announce_completion(run)
    titles = [message["title"] for message in receiver.received]
    assert titles == [
        "ROLLBACK INICIADO - STAGING",
        "ROLLBACK INICIADO - STAGING",
        "ROLLBACK COMPLETADO - STAGING",
        "ROLLBACK COMPLETADO - STAGING",
    ]
    assert "Versión objetivo: staging-deploy-20251117-1430" in receiver.received[0]["message"]
    assert "Versión restaurada: staging-deploy-20251117-1430" in receiver.received[2]["message"]
    sent = events(run, "notification_sent", "notification_warning")
    assert [(e["event"], e["kind"], e["target"]) for e in sent] == [
        ("notification_sent", "start", f"{VARIABLE} (JSON)"),
        ("notification_sent", "start", "SECOND_URL (JSON)"),
        ("notification_sent", "end", f"{VARIABLE} (JSON)"),
        ("notification_sent", "end", "SECOND_URL (JSON)"),
    ]


def test_the_url_is_a_secret(tmp_path: Path, monkeypatch, receiver: Receiver) -> None:
    monkeypatch.setenv(VARIABLE, receiver.url)
    monkeypatch.delenv("SECOND_URL", raising=False)
    run = make_run(tmp_path, monkeypatch)
    announce(run, "start", ["ROLLBACK INICIADO - STAGING", f"webhook: {receiver.url}"])
    journal = run.incident.journal.path.read_text(encoding="utf-8")
    assert receiver.url not in journal and MASK in journal


def test_unreachable_url_is_a_warning_not_an_exception(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(VARIABLE, f"json://127.0.0.1:{closed_port()}/")
    monkeypatch.delenv("SECOND_URL", raising=False)
    run = make_run(tmp_path, monkeypatch)
    text = announce(run, "start", ["ROLLBACK INICIADO - STAGING", "Razón: prueba"])
    assert text == "ROLLBACK INICIADO - STAGING\nRazón: prueba"
    first, second = events(run, "notification_sent", "notification_warning")
    assert first["event"] == "notification_warning" and first["target"] == f"{VARIABLE} (JSON)"
    assert first["reason"].startswith("not sent: ")
    assert second["event"] == "notification_warning" and second["target"] == "SECOND_URL"
    assert events(run, "notification")[0]["text"] == text  # still shown and journaled


def test_a_silent_server_is_a_bounded_warning(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(notify, "SEND_TIMEOUT", 0.5)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv(VARIABLE, f"json://127.0.0.1:{silent.getsockname()[1]}/")
        monkeypatch.delenv("SECOND_URL", raising=False)
        run = make_run(tmp_path, monkeypatch)
        started = time.monotonic()
        announce(run, "start", ["ROLLBACK INICIADO - STAGING"])
        assert time.monotonic() - started < 3
    warning = events(run, "notification_warning")[0]
    assert warning["target"] == f"{VARIABLE} (JSON)" and warning["reason"].startswith("not sent")


def test_unset_variable_is_a_warning(tmp_path: Path, monkeypatch, receiver: Receiver) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("SECOND_URL", receiver.url)
    run = make_run(tmp_path, monkeypatch)
    announce(run, "start", ["ROLLBACK INICIADO - STAGING"])
    warning, sent = events(run, "notification_sent", "notification_warning")
    assert warning["event"] == "notification_warning" and warning["target"] == VARIABLE
    assert f"{VARIABLE} is not set" in warning["reason"]
    assert sent["event"] == "notification_sent"
    assert [m["title"] for m in receiver.received] == ["ROLLBACK INICIADO - STAGING"]


def test_unknown_url_is_a_warning(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(VARIABLE, "not a url")
    monkeypatch.delenv("SECOND_URL", raising=False)
    run = make_run(tmp_path, monkeypatch)
    announce(run, "start", ["ROLLBACK INICIADO - STAGING"])
    warning = events(run, "notification_warning")[0]
    assert "not a notification URL apprise knows" in warning["reason"]


def test_dry_run_sends_nothing(tmp_path: Path, monkeypatch, receiver: Receiver) -> None:
    monkeypatch.setenv(VARIABLE, receiver.url)
    monkeypatch.delenv("SECOND_URL", raising=False)
    run = make_run(tmp_path, monkeypatch, Mode.DRY_RUN)
    announce(run, "start", ["ROLLBACK INICIADO - STAGING"])
    assert receiver.received == []
    assert events(run, "notification_planned")[0]["target"] == f"{VARIABLE} (JSON)"


def test_an_escalation_reaches_each_person_of_its_roles(
    tmp_path: Path, monkeypatch, receiver: Receiver
) -> None:
    """§9.1: the Tech Lead on their own channel; the DBA, without one, is a warning naming how
    to reach them; the Product Owner is not told."""
    monkeypatch.setenv(VARIABLE, receiver.url)
    monkeypatch.setenv("SECOND_URL", receiver.url)
    monkeypatch.setenv("LEAD_URL", receiver.url.replace("/incidents", "/lead"))
    run = make_run(tmp_path, monkeypatch)
    run.site.env = run.site.env.model_copy(
        update={
            "people": [
                Person(name="Lead", identity="lead@x", roles=["tech_lead"], notify_env="LEAD_URL"),
                Person(name="Dba", identity="dba@x", roles=["dba"], contact="+34 600"),
                Person(
                    name="Owner", identity="po@x", roles=["product_owner"], notify_env="LEAD_URL"
                ),
            ]
        }
    )
    announce(run, "escalation", ["ROLLBACK FALLIDO - STAGING"], roles=notify.ESCALATION)
    titles = [message["title"] for message in receiver.received]
    assert titles.count("ROLLBACK FALLIDO - STAGING — para Lead") == 1
    assert not any("Owner" in title for title in titles)
    assert (
        "Avisar a: Lead (tech_lead, lead@x); Dba (dba, +34 600)" in receiver.received[0]["message"]
    )
    [warning] = events(run, "notification_warning")
    assert warning["target"] == "Dba" and "+34 600" in warning["reason"]


def test_the_product_owner_follow_up_is_done_once_the_end_notice_reached_them(
    tmp_path: Path, monkeypatch, receiver: Receiver
) -> None:
    """§7.3's "Notificar a Product Owner": done by the run when Paso 7.2's notice reached every
    product owner on their own channel; open when one has no channel."""
    monkeypatch.setenv(VARIABLE, receiver.url)
    monkeypatch.setenv("SECOND_URL", receiver.url)
    monkeypatch.setenv("PO_URL", receiver.url.replace("/incidents", "/po"))
    run = make_run(tmp_path, monkeypatch)
    owner = Person(name="Pablo", identity="po@x", roles=["product_owner"], notify_env="PO_URL")
    run.site.env = run.site.env.model_copy(update={"people": [owner]})
    [before] = [i for i in closing.follow_ups(run) if i["action"] == closing.TELL_PRODUCT_OWNER]
    assert "done" not in before  # nothing sent yet
    closing_actions.announce_completion(run)
    [after] = [i for i in closing.follow_ups(run) if i["action"] == closing.TELL_PRODUCT_OWNER]
    assert after["done"].startswith("hecho: el aviso de fin del Paso 7.2 llegó a Pablo (PO_URL, ")
    silent = Person(name="Paula", identity="po2@x", roles=["product_owner"])
    run.site.env = run.site.env.model_copy(update={"people": [owner, silent]})
    [unreached] = [i for i in closing.follow_ups(run) if i["action"] == closing.TELL_PRODUCT_OWNER]
    assert "done" not in unreached
