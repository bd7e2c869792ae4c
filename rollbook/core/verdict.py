"""A check's verdict on one Criterio de Éxito: the problems it observed (none: the criterion is
met). A `then` step is `assert not verdict.problems, verdict.text`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    problems: list[str]
    what: str = ""  # what the problems are of, said before them

    @property
    def text(self) -> str:
        said = "; ".join(self.problems)
        return f"{self.what}: {said}" if self.what else said


def judged(problems: Iterable[str], what: str = "") -> Verdict:
    return Verdict(list(problems), what)


def one(problem: str | None, what: str = "") -> Verdict:
    """The verdict of a check that names at most one problem (None: met)."""
    return Verdict([problem] if problem else [], what)
