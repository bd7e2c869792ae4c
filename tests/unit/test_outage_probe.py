"""The health probe's own view of the outage: a real HTTP server whose answer changes, and the
outage read back from probe events."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rollbook.core.journal import Journal, read_journal
from rollbook.core.redact import Redactor
from rollbook.lifecycle.outage_probe import OutageProbe
from rollbook.record import outage_seen
from rollbook.record.outage_seen import seen_outage


def at(second: int) -> str:
    return f"2026-11-29T03:00:{second:02d}.000+00:00"


def statuses(journal: Journal) -> list[int]:
    return [e["status"] for e in read_journal(journal.path) if e["event"] == "probe"]


def test_the_probe_journals_each_change_of_what_the_url_answers(tmp_path: Path) -> None:
    answer = {"status": 200}

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answer["status"])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    journal = Journal(tmp_path / "journal.jsonl", Redactor())
    probe = OutageProbe(journal, f"http://127.0.0.1:{server.server_port}/", 0.05).start()

    def until_probe_says(status: int) -> None:
        while not (said := statuses(journal)) or said[-1] != status:
            threading.Event().wait(0.02)

    try:
        until_probe_says(200)
        for status in (503, 200):
            answer["status"] = status
            until_probe_says(status)
        server.shutdown()  # nothing answers now
        until_probe_says(0)
    finally:
        probe.stop()
        server.server_close()
    events = list(read_journal(journal.path))
    assert statuses(journal) == [200, 503, 200, 0]
    assert events[-1]["event"] == "probe_stopped" and events[-1]["samples"] >= 4


def test_the_outage_seen_counts_every_second_without_200_after_the_stop() -> None:
    events = [
        {"event": "probe_started", "ts": at(0), "url": "http://site/", "interval": 1.0},
        {"event": "probe", "ts": at(1), "status": 500},  # the defective release, before
        {"event": "intent", "ts": at(10), "paso": "2.2"},
        {"event": "probe", "ts": at(11), "status": 503},
        {"event": "probe", "ts": at(20), "status": 200},
        {"event": "probe", "ts": at(25), "status": 0},
        {"event": "probe", "ts": at(27), "status": 200},
        {"event": "probe_stopped", "ts": at(30), "samples": 30},
    ]
    seen = {"url": "http://site/", "interval": 1.0}
    assert seen_outage(events) == {**seen, "seconds": 12.0, "back": at(27)}
    said = outage_seen.describe(events)
    assert "12 s sin 200; 200 de nuevo desde 03:00:27 UTC" in said and "cada 1 s" in said
    ended_down = [*events[:-2], {"event": "probe_stopped", "ts": at(30), "samples": 30}]
    assert seen_outage(ended_down) == {**seen, "seconds": 15.0, "back": None}
    assert seen_outage(events[:2]) is None  # nothing was stopped
