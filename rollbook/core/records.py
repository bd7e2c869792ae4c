"""What a run learnt and began, typed: each record written once by the Paso that learns it and
read by its type (rollbook.core.state), each change begun with the data its undo needs
(rollbook.core.operations). Both are journaled as they happen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from rollbook.core.errors import UserError
from rollbook.core.executor import Executor
from rollbook.core.journal import Journal
from rollbook.core.operations import CHANGES, Change
from rollbook.core.state import RECORDS, PerHost, Record

R = TypeVar("R", bound=Record)
C = TypeVar("C", bound=Change)
P = TypeVar("P", bound=PerHost)
Prints = dict[str, dict[str, object]]  # per table, its rows and checksum (database.fingerprints)
Keys = dict[str, set[int | str]]  # per table, its rows' keys (rollbook.actions.database.row_keys)


class Records:
    def __init__(self, journal: Journal, executor: Executor) -> None:
        self._journal = journal
        self._executor = executor
        self._kept: dict[type[Record], Record] = {}
        self._lock = threading.Lock()  # the hosts of a Paso keep their parts from their threads
        self.changes: list[Change] = []  # the operations begun, in order
        self.keys_before: Keys | None = None  # Paso 4.1's row keys, for the data loss
        # the backup's row keys (Paso 1.3's trial restore, swap's Paso 4.0), for the data loss
        self.keys_restored: Keys | None = None
        self.prints_restored: Prints | None = None  # swap's Paso 4.0: the shadow's fingerprints

    def keep(self, record: R) -> R:
        """A typed record a Paso learnt, journaled as its fact."""
        self._kept[type(record)] = record
        self._journal.write("fact", paso=self._executor.paso, key=record.KEY, value=record.value())
        return record

    def keep_host(self, kind: type[P], spec: str, part: Any) -> P:
        """One host's part of a per-host record, merged in as that host's thread learns it."""
        with self._lock:
            known = self.known(kind)
            hosts = dict(known.hosts if known else {}) | {spec: part}
            return self.keep(replace(known, hosts=hosts) if known else kind(hosts))

    def known(self, kind: type[R]) -> R | None:
        """The typed record of `kind` recorded so far, or None."""
        found = self._kept.get(kind)
        return found if isinstance(found, kind) else None

    def need(self, kind: type[R]) -> R:
        """The typed record of `kind`, which an earlier Paso must have recorded."""
        found = self.known(kind)
        if found is None:
            raise UserError(f"internal order error: {kind.KEY!r} was not recorded yet")
        return found

    @contextmanager
    def operation(self, change: C) -> Iterator[C]:
        """A change begun: journaled with the data its undo needs before its first command, and
        as done after its last (an exception leaves it begun: §9 undoes it)."""
        fields: dict[str, Any] = {
            "paso": self._executor.paso,
            "kind": change.KEY,
            "data": change.value(),
        }
        if self._executor.planning:
            fields["planned"] = True
        with self._lock:
            self.changes.append(change)
        self._journal.write("operation", **fields)
        yield change
        self._journal.write("operation_done", **fields)

    def begun(self, kind: type[C]) -> list[C]:
        """The operations of `kind` this run began, in order."""
        return [change for change in self.changes if isinstance(change, kind)]

    def adopt(self, event: dict[str, Any], incident: str) -> None:
        """A fact, intent or operation of the interrupted `incident`, carried into this run
        (--resume): journaled again, and known as if this run had learnt or begun it."""
        fields = {k: v for k, v in event.items() if k not in ("ts", "event")}
        self._journal.write(event["event"], **fields, resumed_from=incident)
        if event["event"] == "fact" and event["key"] in RECORDS:
            record = RECORDS[event["key"]].of(event["value"])
            self._kept[type(record)] = record
        elif event["event"] == "operation" and event["kind"] in CHANGES:
            self.changes.append(CHANGES[event["kind"]].of(event["data"]))
