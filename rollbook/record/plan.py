"""The dry-run plan: every mutating command the rollback would run, in order, with its host."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from rollbook.actions import symptoms
from rollbook.actions.database import database_path
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.core.state import SymptomsObserved, Target
from rollbook.governance import approval, provenance
from rollbook.record import closing


def planned_commands(journal: Path) -> list[dict[str, Any]]:
    return [
        {
            "paso": e["paso"],
            "host": e["host"],
            "argv": e["argv"],
            "cwd": e.get("cwd"),
            "line": e.get("line") or shlex.join(e["argv"]),
        }
        for e in read_journal(journal)
        if e["event"] == "planned"
    ]


NOT_VERIFIED = "no verificado (plan)"  # a criterion on what a mutating Paso did: nothing ran


def unverified(journal: Path) -> list[tuple[str, str]]:
    """(Paso, criterion) a dry-run could not check, in the order the Pasos came."""
    prefix = f"{NOT_VERIFIED}: "
    return [
        (e["paso"], e["detail"].removeprefix(prefix))
        for e in read_journal(journal)
        if e["event"] == "paso_finished" and str(e.get("detail", "")).startswith(prefix)
    ]


# what Paso 1 learnt that an approver reads with the commands (their values: rollbook.core.state)
PLANNED_FACTS = (
    "target",
    "migration_plan",
    "database_path",
    "trial_restore",
    "deployed",
    "backup",
    "provenance",
    "restore_loss_estimate",
    "row_labels",
)


def write_plan(run: Run) -> tuple[Path, Path]:
    """plan.json and plan.md in the incident folder (secrets already redacted by the journal)."""
    steps, facts = planned_commands(run.incident.journal.path), run.incident.journal.facts()
    as_json = run.incident.folder / "plan.json"
    document = {
        "incident": run.incident.id,
        "environment": run.site.env.name,
        "commands": steps,
        **{key: facts.get(key) for key in PLANNED_FACTS},
        "not_verified": [
            {"paso": p, "criterion": c} for p, c in unverified(run.incident.journal.path)
        ],
    }
    document["plan_sha256"] = approval.digest(document)
    # what the approver reads of the situation: beside the digest, not in it (the URLs' answers
    # and the logs' error rate change by the minute; the run records its own observation)
    document["symptoms"] = {
        "declared": run.incident.options.reason,
        "severity": run.incident.options.severity,
        "observed": observed.value() if (observed := SymptomsObserved.read(facts)) else None,
    }
    as_json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    target = Target.read(facts)
    chosen = f"{target.name} — {target.reason}" if target else "n/d — n/d"
    lines = [
        f"# Plan de rollback (dry-run) — {run.site.env.name} — {run.incident.id}",
        "",
        f"- Versión objetivo: {chosen}",
        f"- Migraciones: {closing.migration_summary(facts)}",
        f"- Camino de la base de datos: {database_path.summary(facts)}",
        f"- Prueba de restauración: {closing.trial_summary(facts)}",
        f"- Procedimiento: {provenance.summary(facts.get('provenance'))}",
        f"- Síntomas declarados: {run.incident.options.reason or 'n/d'} "
        f"(severidad {run.incident.options.severity or 'n/d'})",
        f"- Observado por rollbook (Paso 1.1, fuera de la huella): "
        f"{symptoms.summary(SymptomsObserved.read(facts))}",
        f"- Huella del plan (lo que firma `rollbook approve`): {document['plan_sha256']}",
        "",
    ]
    lines += [
        f"{n}. Paso {s['paso']} on `{s['host']}`"
        + (f" in `{s['cwd']}`" if s["cwd"] else "")
        + f": `{s['line']}`"
        for n, s in enumerate(steps, 1)
    ]
    unchecked = unverified(run.incident.journal.path)
    if unchecked:
        lines += ["", f"## Criterios {NOT_VERIFIED} — se comprueban solo en la ejecución real", ""]
        lines += [f"- Paso {paso}: {criterion}" for paso, criterion in unchecked]
    as_md = run.incident.folder / "plan.md"
    as_md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for path in (as_json, as_md):
        path.chmod(0o600)
    return as_json, as_md
