"""The incident: its id, folder, options and journal, and the messages the operator follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rollbook.core.executor import Executor
from rollbook.core.journal import Journal
from rollbook.core.redact import Redactor

if TYPE_CHECKING:
    from rollbook.core.run import RunOptions


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Result:
    """How the run ended: the outcome's name, the exit code, the lines that say why."""

    name: str
    exit_code: int
    lines: list[str]


class Incident:
    def __init__(
        self,
        options: RunOptions,
        incident_id: str,
        folder: Path,
        started: datetime,
        journal: Journal,
        executor: Executor,
        redactor: Redactor,
        progress: Callable[[str], None],
    ) -> None:
        self.options = options
        self.id = incident_id
        self.folder = folder
        self.started = started
        self.journal = journal
        self._executor = executor
        self._redactor = redactor
        self._progress = progress
        self.checklist = False  # validation / prerequisites: independent checks, not the procedure
        self.result: Result | None = None  # set when the run finishes
        self.probe: Stoppable | None = None  # the outage probe, while a rollback runs

    @property
    def paso(self) -> str | None:
        """The Paso (or the tool's own work: lock, ledger, §9) being journaled now."""
        return self._executor.paso

    def say(self, message: str) -> None:
        """Progress the operator can follow, also kept in the journal."""
        text = self._redactor.text(message)
        self._progress(text)
        self.journal.write("message", paso=self.paso, text=text)

    def not_configured(self, what: str) -> None:
        """Part of a check has nothing to look at: said and journaled, never hidden in a pass."""
        self.journal.write("not_configured", paso=self.paso, setting=what)
        self.say(f"WARNING: no configurado: {what}")

    def note(self, key: str, **value: Any) -> dict[str, Any]:
        """Evidence for the record (a check's figures, what a Paso did), journaled as a fact
        under `key` for the report; the run itself never reads it back (what a later Paso needs
        is a typed record: rollbook.core.records)."""
        self.journal.write("fact", paso=self.paso, key=key, value=value)
        return value
