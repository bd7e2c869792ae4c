"""The health probe's own view of the outage. While a rollback runs, a thread asks the URL users
reach (the first of health.endpoints, else health.url) once a second from the operator's machine
and journals every change of what it answers (`probe` events: the status, 0 when nothing
answered); rollbook.record.outage_seen reads them back for the record. It is measured apart from
the run's own checks: behind a proxy, users still get the maintenance page (503) after the app's
health check answers 200."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

from rollbook.core.config import Environment
from rollbook.core.journal import Journal

INTERVAL = 1.0  # seconds between two questions
TIMEOUT = 2.0  # a question unanswered in this long counts as no answer
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as users reach it


def probe_url(env: Environment) -> str | None:
    """What the probe asks: a public endpoint, else the health URL; None when the health URL is
    only reachable through a unix socket on the app host (the probe cannot see it from here)."""
    if env.health.endpoints:
        return env.health.endpoints[0]
    return None if env.health.unix_socket else env.health.url


def status_of(url: str) -> int:
    """The HTTP status the URL answers now; 0 when nothing answered."""
    try:
        with _DIRECT.open(url, timeout=TIMEOUT) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


class OutageProbe:
    def __init__(self, journal: Journal, url: str, interval: float = INTERVAL) -> None:
        self.journal, self.url, self.interval = journal, url, interval
        self._stop = threading.Event()
        self._samples = 0
        self._thread = threading.Thread(target=self._ask, name="outage-probe", daemon=True)

    def start(self) -> OutageProbe:
        self.journal.write("probe_started", url=self.url, interval=self.interval)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(TIMEOUT + self.interval)
            self.journal.write("probe_stopped", samples=self._samples)

    def _ask(self) -> None:
        last: int | None = None
        while True:
            status = status_of(self.url)
            self._samples += 1
            if status != last:
                self.journal.write("probe", status=status)
                last = status
            if self._stop.wait(self.interval):
                return
