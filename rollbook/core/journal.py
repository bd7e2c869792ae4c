"""The run's journal: reports/<incident-id>/journal.jsonl, one JSON object per line.

Every line is flushed and fsynced as it is written: the report, the incident markdown, the
timeline and any recovery are read back from this file, never reconstructed from memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollbook.core.redact import Redactor


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Journal:
    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self._redactor = redactor
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()  # the hosts of a Paso write from their own threads

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """One line, in one write(2) where the kernel takes it whole (a buffered writer would cut
        a long line in pieces a reader could see, and a kill would leave half of one)."""
        record = self._redactor.data({"ts": now_iso(), "event": event, **fields})
        data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: the journal is closed")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        return record

    def seal(self, other: Path, incident: str) -> None:
        """Another incident's journal is evidence: never written again, its sha256 kept here
        (and so in this run's signed record). Once per journal."""
        if any(e.get("path") == str(other) for e in self.events("journal_sealed")):
            return
        digest = hashlib.sha256(other.read_bytes()).hexdigest()
        self.write("journal_sealed", incident=incident, path=str(other), sha256=digest)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [e for e in read_journal(self.path) if event is None or e["event"] == event]

    def facts(self) -> dict[str, dict[str, Any]]:
        """The facts journaled so far, the last value of each: the evidence the record shows."""
        return facts_of(read_journal(self.path))


def facts_of(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The facts among a journal's events, by key, the last value of each."""
    return {e["key"]: e["value"] for e in events if e["event"] == "fact"}


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """Its events; a last line without its newline (a write cut by a kill, or still being
    written) is left out, any other line that is not JSON is an error."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                try:
                    yield json.loads(line)
                except ValueError:
                    return
                return
            line = line.strip()
            if line:
                yield json.loads(line)
