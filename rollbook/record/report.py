"""What the signed pytest-html report shows, read back from the journal (no pytest here).

The environment table (the incident record), each Paso's commands and evidence, and the summary:
outcome, §7.1 criteria, Etapa durations against Anexo B, recovery and escalation.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from datetime import UTC, datetime
from html import escape
from typing import Any

from rollbook.actions import symptoms
from rollbook.actions.database import database_path
from rollbook.core import timeline
from rollbook.core.run import Run
from rollbook.core.state import ChosenBackup, SafetyDump, SymptomsObserved, Target
from rollbook.governance import provenance
from rollbook.governance.notify import NOT_DELIVERED
from rollbook.record import (
    closing,
    data_statement,
    final_state,
    outage_seen,
    procedure_standing,
    timeline_picture,
)

_OUTPUT_CHARS = 4000
# a command that did not run, in the evidence table: a dry-run's plan, or one the run refused
UNRUN = {"planned": "planificado", "refused": "rechazado"}
MODES = {"execute": "ejecución", "dry-run": "simulación (dry-run)", "read-only": "solo lectura"}


def _age(seconds: float | None) -> str:
    return "n/d" if seconds is None else f"{seconds / 3600:.1f} h"


def environment_table(run: Run, events: list[dict[str, Any]]) -> dict[str, str]:
    facts, opts = final_state.incident_facts(run, events), run.incident.options
    incident, target = facts.get("incident", {}), Target.read(facts)
    backup, safety = ChosenBackup.read(facts), SafetyDump.read(facts)
    outcome = next((e for e in reversed(events) if e["event"] == "outcome"), {})
    start, end = events[0]["ts"], events[-1]["ts"]
    return {
        "Resultado": str(outcome.get("outcome", "EN CURSO")),
        **dict(closing.for_the_auditor(run, events)),
        "Incidente": run.incident.id,
        **({"Incidente revertido": opts.incident} if opts.incident else {}),
        "Ambiente": run.site.env.name,
        "Severidad": str(incident.get("severity") or run.incident.options.severity or "n/d"),
        "Razón": str(run.incident.options.reason or incident.get("symptoms") or "n/d"),
        "Observado (Paso 1.1)": symptoms.summary(SymptomsObserved.read(facts)),
        "Impacto": str(run.incident.options.impact or incident.get("impact") or "n/d"),
        "Aprobado por": str(incident.get("approved_by") or run.incident.options.approved_by),
        "Procedimiento": provenance.summary(facts.get("provenance")),
        "Vigencia del procedimiento": procedure_standing.summary(facts.get("procedure_standing")),
        "Archivos del procedimiento": "; ".join(provenance.hashes(facts.get("provenance"))),
        "Modo": MODES[run.site.mode.value],
        **dict(line.split(": ", 1) for line in final_state.versions(facts, events)),
        "Motivo de la elección": target.reason if target else "n/d",
        "Migraciones (clasificación)": closing.migration_summary(facts),
        "Camino de la base de datos": database_path.summary(facts),
        "Conjunto de paquetes": closing.package_summary(facts),
        closing.backup_label(facts): (
            f"{backup.path} ({backup.size} bytes, sha256 {backup.sha256}, {_age(backup.age)})"
            if backup
            else "n/d"
        ),
        "Prueba de restauración": closing.trial_summary(facts),
        "Backup pre-rollback": (
            f"{safety.path} ({safety.size} bytes, sha256 {safety.sha256})" if safety else "n/d"
        ),
        "Inicio": start,
        "Fin": end,
        "Duración total": f"{timeline.seconds_between(start, end) or 0:.0f} s",
        "Visto por la sonda": outage_seen.describe(events),
    }


def ran(command: dict[str, Any]) -> str:
    """The exact line a command event ran (with its cd, sudo, env and timeout wrappers)."""
    return str(command.get("line") or shlex.join(command["argv"]))


def paso_evidence_html(events: list[dict[str, Any]], paso: str) -> str:
    """Every command of the Paso (host, argv, exit, duration, output) and the facts it recorded."""
    rows = []
    for e in events:
        if e.get("paso") != paso:
            continue
        if e["event"] == "command":
            output = (e.get("stdout", "") + e.get("stderr", ""))[-_OUTPUT_CHARS:]
            rows.append(
                f"<tr><td>{escape(e['host'])}</td><td><code>{escape(ran(e))}"
                f"</code></td><td>{e['exit']}</td><td>{e['duration']:.2f} s</td>"
                f"<td><pre>{escape(output)}</pre></td></tr>"
            )
        elif e["event"] in ("planned", "refused"):
            rows.append(
                f"<tr><td>{escape(e['host'])}</td><td><code>{escape(shlex.join(e['argv']))}"
                f"</code></td><td>{UNRUN[e['event']]}</td><td></td><td></td></tr>"
            )
    facts = [e for e in events if e["event"] == "fact" and e.get("paso") == paso]
    html = hosts_html(events, paso)
    if rows:
        html += (
            "<table class='rollbook-commands'><tr><th>host</th><th>comando</th><th>código</th>"
            "<th>duración</th><th>salida</th></tr>" + "".join(rows) + "</table>"
        )
    for fact in facts:
        value = json.dumps(fact["value"], ensure_ascii=False, indent=1, default=str)
        html += f"<p><b>{escape(fact['key'])}</b></p><pre>{escape(value[:_OUTPUT_CHARS])}</pre>"
    return html


def hosts_html(events: list[dict[str, Any]], paso: str) -> str:
    """The Paso's result on each host of a fleet (one row per host), when it ran on several."""
    results = [e for e in events if e["event"] == "host_result" and e.get("paso") == paso]
    if len({e["host"] for e in results}) < 2:
        return ""
    rows = "".join(
        f"<tr><td>{escape(e['role'])}</td><td>{escape(e['host'])}</td>"
        f"<td>{'ok' if e['ok'] else 'FALLÓ'}</td><td>{e['seconds']:.2f} s</td>"
        f"<td>{escape(e.get('error') or '')}</td></tr>"
        for e in results
    )
    return (
        "<table class='rollbook-hosts'><tr><th>rol</th><th>host</th><th>resultado</th>"
        f"<th>duración</th><th>error</th></tr>{rows}</table>"
    )


def failed_paso_html(events: list[dict[str, Any]]) -> str:
    """Failure first: the failed Paso, its error and the commands and output that explain it, then
    what §9 did; '' when nothing failed."""
    failed = next(
        (e for e in events if e["event"] == "paso_finished" and e["status"] == "failed"), None
    )
    if failed is None:
        return ""
    detail = str(failed.get("detail") or "sin detalle").strip().splitlines()[-12:]
    lines = "".join(
        f"<li>{escape(line[2:])}</li>" for line in final_state.failure_lines(events)[1:]
    )
    return (
        f'<section id="paso-fallido"><h2>Falló el Paso {escape(str(failed["paso"]))}</h2>'
        f"<pre>{escape(chr(10).join(detail))}</pre>"
        f"{paso_evidence_html(events, str(failed['paso']))}"
        + (f"<h3>Qué hizo §9</h3><ul>{lines}</ul>" if lines else "")
        + "</section>"
    )


def summary_html(run: Run, events: list[dict[str, Any]]) -> str:
    outcome = next((e for e in reversed(events) if e["event"] == "outcome"), None)
    parts = [failed_paso_html(events)]
    if outcome:
        lines = "<br>".join(escape(line) for line in outcome["lines"])
        parts.append(f"<h2>Resultado: {escape(outcome['outcome'])}</h2><p>{lines}</p>")
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in closing.for_the_auditor(run, events)
    )
    parts.append(f'<table class="rollbook-auditor">{rows}</table>')
    statuses = Counter(e["status"] for e in timeline.paso_results(events).values())
    parts.append(
        f'<p class="rollbook-count">{sum(statuses.values())} Pasos: {statuses["passed"]} '
        f"pasados, {statuses['failed']} fallidos, {statuses['skipped']} omitidos (cada uno dice "
        "por qué)</p>"
    )
    picture = timeline_picture.svg(events, run.site.env.budgets)
    if picture:
        parts.append(f"<h3>Línea de tiempo</h3>{picture}")
    budget_rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in closing.anexo_b(run.site.env.budgets, events)
    )
    parts.append(
        "<h3>Duración por Etapa (Anexo B)</h3><table><tr>"
        + "".join(f"<th>{name}</th>" for name in closing.ANEXO_B_COLUMNS)
        + f"</tr>{budget_rows}</table>"
    )
    criteria = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(value)}</td><td>{closing.mark(ok)}</td></tr>"
        for name, value, ok in closing.criteria(events)
    )
    parts.append(
        "<h3>Criterios de Éxito (§7.1)</h3><table><tr><th>criterio</th><th>medido</th>"
        f"<th>estado</th></tr>{criteria}</table>"
    )
    if final_state.recovery_state(events) is None:  # after §9 the data is the previous state
        parts.append(data_statement.html(timeline.facts(events)))
    recovery = [e for e in events if e["event"] in ("recovery_action", "recovery_check")]
    if recovery:
        items = "".join(
            f"<li>{escape(e.get('action') or e.get('check', ''))}: "
            f"{escape(str(e.get('result', 'OK' if e.get('ok') else 'FALLÓ')))}</li>"
            for e in recovery
        )
        parts.append(f"<h3>Recuperación (§9)</h3><ul>{items}</ul>")
    warnings = [e for e in events if e["event"] == "notification_warning"]
    if warnings:
        items = "".join(
            f"<li>{NOT_DELIVERED} ({escape(str(e['kind']))}): {escape(str(e['target']))}: "
            f"{escape(str(e['reason']))}</li>"
            for e in warnings
        )
        parts.append(f"<h3>Avisos de notificación</h3><ul>{items}</ul>")
    deselected = next((e["deselected"] for e in events if e["event"] == "selection"), [])
    if deselected:
        items = "".join(f"<li>{escape(name)}</li>" for name in deselected)
        parts.append(f"<h3>Pasos no seleccionados</h3><ul>{items}</ul>")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    parts.append(f"<p>Journal: journal.jsonl — generado {stamp}</p>")
    return "".join(parts)


def paso_budget(run: Run, paso: str, seconds: float) -> str:
    """'Etapa 3: 24.1 s de 180 s' — a Paso alone over its Etapa's budget is marked EXCEDIDO."""
    if not paso[:1].isdigit():
        return ""
    etapa = f"etapa{paso.split('.')[0]}"
    budget = run.site.env.budgets.get(etapa)
    if budget is None:
        return closing.etapa_label(etapa)
    over = " EXCEDIDO" if seconds > budget else ""
    return f"{closing.etapa_label(etapa)}: {seconds:.1f} s de {budget:.0f} s{over}"


def human_log(events: list[dict[str, Any]]) -> str:
    """rollback.log (§6.1): one line per Paso, command, message and outcome."""
    lines = []
    for e in events:
        ts, paso = e["ts"][11:19], e.get("paso") or "-"
        if e["event"] == "command":
            lines.append(f"{ts} [{paso}] {e['host']} $ {ran(e)} → exit {e['exit']}")
        elif e["event"] == "planned":
            lines.append(f"{ts} [{paso}] {e['host']} (planned) $ {shlex.join(e['argv'])}")
        elif e["event"] == "host_result" and not e["ok"]:
            lines.append(f"{ts} [{paso}] {e['host']} FAILED: {e.get('error')}")
        elif e["event"] == "message":
            lines += [f"{ts} [{paso}] {line}" for line in str(e["text"]).splitlines() if line]
        elif e["event"] == "paso_finished":
            lines.append(f"{ts} [{paso}] {e['status'].upper()} {e.get('detail') or ''}".rstrip())
        elif e["event"] == "outcome":
            lines.append(f"{ts} RESULTADO: {e['outcome']}")
    return "\n".join(lines) + "\n"
