"""The one outcome of a run, decided from the journal (DESIGN.md, Outcomes)."""

from __future__ import annotations

from dataclasses import dataclass

from rollbook.run import Run

COMPLETED = "ROLLBACK COMPLETADO"
ABORTED = "ABORTADO — SIN CAMBIOS"
RESTORED = "FALLIDO — ESTADO PREVIO RESTAURADO"
MANUAL = "FALLIDO — INTERVENCION MANUAL"
EVALUATED = "EVALUACION COMPLETADA — SIN CAMBIOS"


@dataclass(frozen=True)
class Result:
    name: str
    exit_code: int
    lines: list[str]


def first_failure(run: Run) -> str | None:
    for event in run.journal.events("paso_finished"):
        if event["status"] == "failed":
            return str(event["paso"])
    return None


def changed_anything(run: Run) -> bool:
    return bool(run.journal.events("intent"))


def finish(run: Run) -> Result:
    failed = first_failure(run)
    if failed is None:
        result = Result(
            EVALUATED, 0, [f"Etapa 1 passed; nothing was changed. Report: {run.folder}"]
        )
    else:
        result = Result(
            ABORTED if not changed_anything(run) else MANUAL,
            1,
            [f"Paso {failed} failed; see {run.folder / 'journal.jsonl'}"],
        )
    run.journal.write(
        "outcome", outcome=result.name, exit_code=result.exit_code, lines=result.lines
    )
    run.result = result
    return result
