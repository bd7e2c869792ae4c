"""Etapa 7 rendered: the incident markdown (Paso 7.1), the follow-ups it lists (7.3) and what the
completion notice says (rollbook.lifecycle.closing_actions sends it)."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from rollbook.actions import symptoms
from rollbook.actions.database import database_path, trial_restore
from rollbook.core import timeline
from rollbook.core.errors import UserError
from rollbook.core.executor import Mode
from rollbook.core.journal import read_journal
from rollbook.core.operations import DatabaseSwapped, begun
from rollbook.core.run import Run
from rollbook.core.state import (
    ChosenBackup,
    DatabasePath,
    DataLoss,
    MigrationPlan,
    SafetyDump,
    SymptomsObserved,
    Target,
    TrialRestore,
    VenvBuilt,
    VenvRenamed,
    VenvRenamedBack,
)
from rollbook.governance import approval, notify, people, provenance, sign_off, signing
from rollbook.governance.notify import CLOSING, NOT_DELIVERED
from rollbook.record import (
    data_statement,
    final_state,
    outage_seen,
    procedure_standing,
    timeline_picture,
)

TELL_PRODUCT_OWNER = "Notificar a Product Owner"  # done by the run when Paso 7.2 reached them
# §7.3, §8.2 and §11.3: what people do after the run, whose it is (§3.1) and by when: None at
# the close, "watch" §8.2's 30 minutes after the close, "post_mortem" the environment's
# post_mortem_within after the incident started
FOLLOW_UPS: list[tuple[str, str, str | None]] = [
    (
        "Validación extendida de §8.2 (30 min): pytest features/validation.feature --env={env} "
        "--watch 30m --incident {incident}",
        "devops",
        "watch",
    ),
    (
        "Recoger el feedback de usuarios (§8.2) y anotarlo: rollbook addendum --done N --note ...",
        "incident_manager",
        "post_mortem",
    ),
    ("Cerrar ticket de incidente (si aplica)", "incident_manager", None),
    ("Actualizar status page (si aplica)", "incident_manager", None),
    (TELL_PRODUCT_OWNER, "incident_manager", None),
    ("Monitorear por 1 hora mínimo tras el cierre (§11.3)", "devops", None),
    ("Programar post-mortem meeting", "incident_manager", "post_mortem"),
    ("Crear plan para re-deployment (§11.3)", "tech_lead", "post_mortem"),
]
PICTURE = "timeline.svg"  # the run as a picture, beside the markdown that links it
TOTAL_LIMIT = 15 * 60  # §7.1: rollback completed in < 15 minutes
DOWNTIME_LIMIT = 5 * 60  # §7.1: additional downtime < 5 minutes


def report_path(run: Run) -> Path:
    return run.incident.folder / f"ROLLBACK-{run.incident.started:%Y-%m-%d-%H%M}.md"


def shared_name(incident: str) -> str:
    """The report's name in the team's folder: the incident's id, unique where two incidents
    start in the same minute."""
    return f"ROLLBACK-{incident}.md"


def shared_copy(run: Run) -> str:
    """Where the report's copy will be (made when the run closes, after this notice)."""
    incidents = run.site.env.incidents
    return (
        f" (copia al cerrar: {Path(incidents) / shared_name(run.incident.id)})" if incidents else ""
    )


def minutes(seconds: float | None) -> str:
    return "n/d" if seconds is None else f"{seconds / 60:.1f} minutos ({seconds:.0f} s)"


def _window(seconds: float | None) -> str:
    """How long the logs were observed, beside the procedure's own window (Paso 6.4: 120 s)."""
    if seconds is None:
        return ""
    short = (
        f" — DESVIACIÓN: {seconds:.0f} s en lugar de los {PROCEDURE_WATCH:.0f} s del Paso 6.4 "
        "(logs.watch del ambiente)"
        if seconds < PROCEDURE_WATCH
        else ""
    )
    return f" en {seconds:.0f} s de logs observados{short}"


PROCEDURE_WATCH = 120.0  # Paso 6.4: "Monitorear logs en tiempo real (2 minutos)"


def criteria(events: list[dict[str, Any]]) -> list[tuple[str, str, bool | str | None]]:
    """§7.1's quantitative criteria with the measured values."""
    facts = timeline.facts(events)
    total = timeline.seconds_between(events[0]["ts"], events[-1]["ts"]) if events else None
    down = timeline.downtime(events)
    critical = facts.get("critical_functions")
    watch = facts.get("log_watch")
    loss = DataLoss.read(facts)
    counted = loss is not None and loss.tables is not None
    lost = sum(data_statement.user_tables(facts).values()) if counted else None
    conflicts = loss.conflicts if loss else {}
    undone = final_state.recovery_state(events) is not None  # §9 ran: the target is not running
    changed = bool(begun(events))  # an aborted run completed no rollback, however quick
    changed_since = "" if undone else data_statement.changed_since(facts)
    if undone or lost or lost is None or not (conflicts or changed_since):
        loss_said, loss_met = final_state.data_loss(events, lost)
    elif conflicts:
        loss_said, loss_met = _to_decide(conflicts)
    else:  # none lost, rows put back to older content: a person decides, as for a conflict
        loss_said, loss_met = "0 filas perdidas", DECIDE
    return [
        (
            "Rollback completado en < 15 minutos",
            final_state.NOT_APPLICABLE
            if undone
            else minutes(total)
            if changed
            else final_state.UNCHANGED,
            None if undone or not changed or total is None else total < TOTAL_LIMIT,
        ),
        (
            "Downtime adicional < 5 minutos",
            minutes(down),
            None if down is None else down < DOWNTIME_LIMIT,
        ),
        (
            "100% funcionalidades críticas restauradas",
            final_state.NOT_APPLICABLE
            if undone
            else "n/d"
            if critical is None
            else ", ".join(f"{k}: {said(v)}" for k, v in critical.items() if k != "_ts"),
            None
            if undone or critical is None
            else all(v in (True, 200) for k, v in critical.items() if k != "_ts"),
        ),
        (
            "0 errores críticos post-rollback",
            final_state.NOT_APPLICABLE
            if undone
            else "n/d"
            if watch is None
            else f"{len(watch['errors'])} líneas de error" + _window(watch.get("seconds")),
            None
            if undone or watch is None
            else False
            if watch["errors"]
            else SHORT
            if (watch.get("seconds") or PROCEDURE_WATCH) < PROCEDURE_WATCH
            else True,
        ),
        (
            "0 pérdida de datos",
            loss_said + ("" if undone else data_statement.apart(facts)) + changed_since,
            loss_met,
        ),
    ]


DECIDE = "A DECIDIR"  # §7.1's data criterion when rows are changed, none lost: a person decides
# §7.1's errors criterion when the logs were watched less than Paso 6.4's 120 s: none seen, but
# not over the window the document asks for
SHORT = "NO VERIFICADO (ventana menor que la del Paso 6.4)"


def _to_decide(conflicts: dict[str, int]) -> tuple[str, str]:
    """No row lost, some changed: present with the backup's content, the newer in the salvage
    file. Not a loss, and not CUMPLE either: what a person must decide."""
    tables = ", ".join(f"{t}: {n}" for t, n in conflicts.items())
    return (
        f"0 filas perdidas; {sum(conflicts.values())} filas cambiadas en conflicto ({tables}): "
        "queda la versión del backup, la más nueva está en el archivo de rescate — un DBA "
        "decide cuál queda"
    ), DECIDE


def said(value: object) -> str:
    """A measured value as people read it: sí / no for a check, the value itself otherwise."""
    if isinstance(value, bool):
        return "sí" if value else "no"
    return str(value)


def etapa_durations(events: list[dict[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for paso, event in timeline.paso_results(events).items():
        etapa = f"etapa{paso.split('.')[0]}" if paso[:1].isdigit() else "otras"
        totals[etapa] = totals.get(etapa, 0.0) + float(event.get("duration", 0))
    return totals


def etapa_label(key: str) -> str:
    """'etapa3' (Anexo B's key in the environment file) as the procedure names it: 'Etapa 3'."""
    return f"Etapa {key.removeprefix('etapa')}" if key.startswith("etapa") else key


ANEXO_B_COLUMNS = ("Etapa", "Medido", "Presupuesto", "Estado")


def anexo_b(budgets: dict[str, float], events: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Each Etapa's time beside its Anexo B budget: Etapa, measured, budget, state."""
    rows = []
    for etapa, seconds in sorted(etapa_durations(events).items()):
        budget = budgets.get(etapa)
        state = "-" if budget is None else "EXCEDIDO" if seconds > budget else "dentro"
        rows.append(
            (
                etapa_label(etapa),
                f"{seconds:.1f} s",
                "-" if budget is None else f"{budget:.0f} s",
                state,
            )
        )
    return rows


def _deselected(events: list[dict[str, Any]]) -> list[str]:
    return next((e["deselected"] for e in events if e["event"] == "selection"), [])


def mark(ok: bool | str | None) -> str:
    return {True: "CUMPLE", False: "NO CUMPLE", None: "no medido", DECIDE: DECIDE, SHORT: SHORT}[ok]


def data_loss_text(facts: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """ "Datos perdidos" as the record states it: NO, SÍ with the rows per table, or why not
    counted."""
    loss = DataLoss.read(facts)
    counted = loss.tables if loss else None
    users = data_statement.user_tables(facts)
    lost_rows = sum(users.values())
    conflicts = loss.conflicts if loss else {}
    apart = data_statement.apart(facts) + data_statement.changed_since(facts)
    changed = (
        f"; {sum(conflicts.values())} filas cambiadas en conflicto, no perdidas ("
        + ", ".join(f"{t}: {n}" for t, n in conflicts.items())
        + "): la versión más nueva está en el archivo de rescate, un DBA decide cuál queda"
        if conflicts
        else ""
    )
    return (
        final_state.data_loss(events, lost_rows)[0]
        if final_state.recovery_state(events)
        else "n/d (no contado en esta corrida)"
        if loss is None or counted is None
        else "NO" + database_path.dropped_note(facts) + apart + changed
        if lost_rows == 0
        else f"SÍ — {lost_rows} filas del estado previo "
        + (
            "no recuperadas en el Paso 4.5: "
            if loss.recovered
            else "no presentes tras la restauración: "
        )
        + ", ".join(data_statement.named(t, n, facts) for t, n in users.items())
        + data_statement.listed(facts)
        + apart
        + changed
    )


def for_the_auditor(run: Run, events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What an auditor reads first: the final state, the data lost, the downtime, who approved
    and who ran it, and the sign-offs the record still needs (`rollbook sign-off`)."""
    facts = final_state.incident_facts(run, events)
    down = timeline.downtime(events)
    return [
        ("Estado final", stable(run, events)),
        ("Datos perdidos", data_loss_text(facts, events)),
        ("Downtime", "n/d" if down is None else f"{down:.0f} s (detención → primer health 200)"),
        ("Aprobación", approval.summary(facts.get("approval"))),
        ("Ejecutado por", operator(run)),
        ("Firmas requeridas", sign_offs_due(run)),
    ]


def sign_offs_due(run: Run) -> str:
    """The sign-offs the record needs (§3.1: each role's duty, who holds it), the command and by
    when: the post-mortem's date."""
    env = run.site.env
    if run.site.mode is Mode.DRY_RUN:
        return "no aplica: un plan se aprueba (rollbook approve), no se firma"
    if not env.sign_offs:
        return "ninguna requerida"
    holders = [
        f"{role} ({', '.join(p.name for p in people.holding(env, [role])) or 'nadie tiene el rol'}"
        f": {sign_off.DUTIES.get(role, role)})"
        for role in env.sign_offs
    ]
    return (
        f"pendientes: {'; '.join(holders)} — rollbook sign-off {run.incident.folder} --role "
        f"ROL --key CLAVE — antes del {_post_mortem_due(run)}"
    )


def operator(run: Run) -> str:
    """Who ran it; with the fingerprint of their own key when they signed the record with it
    (--signing-key: the key names the person)."""
    key = run.incident.options.signing_key
    if not key:
        how = "la clave del ambiente" if run.site.env.signing else "nadie: registro sin firma"
        return f"{run.incident.options.operator} (operador no probado: firma {how})"
    try:
        printed = signing.fingerprint(signing.public_of(key))
    except UserError:
        return run.incident.options.operator
    return f"{run.incident.options.operator} (firma el registro con su clave {printed})"


def render_markdown(run: Run, outcome: str = "EN CURSO", extra: list[str] | None = None) -> str:
    events = list(read_journal(run.incident.journal.path))
    facts = final_state.incident_facts(run, events)
    incident, target = facts.get("incident", {}), Target.read(facts)
    backup, safety = ChosenBackup.read(facts), SafetyDump.read(facts)
    start, end = events[0]["ts"], events[-1]["ts"]
    loss_text = data_loss_text(facts, events)
    to_do = follow_ups(run)
    undone = (
        [f"- Incidente revertido: {run.incident.options.incident}"]
        if run.incident.options.incident
        else []
    )
    failure = final_state.failure_lines(events)
    lines = [
        f"# Rollback Incident - {run.incident.started:%Y-%m-%d %H:%M} UTC",
        "",
        f"**Resultado: {outcome}**",
        "",
        "## Información del Incidente",
        f"- Incidente: {run.incident.id}",
        *undone,
        f"- Fecha/Hora inicio: {start}",
        f"- Fecha/Hora resolución: {end}",
        f"- Duración total: {minutes(timeline.seconds_between(start, end))}",
        f"- Ambiente: {run.site.env.name.upper()}",
        f"- Severidad: {incident.get('severity') or run.incident.options.severity or 'n/d'}",
        f"- Observado por rollbook (Paso 1.1): {symptoms.summary(SymptomsObserved.read(facts))}",
        f"- Decisión: {incident.get('decision', 'n/d')}",
        f"- Aprobación: {approval.summary(facts.get('approval'))}",
        f"{FINAL_STATE}{stable(run, events)}",
        f"- Ejecutado por: {operator(run)}",
        "- De guardia (§10.2, §12.4): "
        + (_owner(run, "on_call") or "NADIE tiene el rol on_call en people (rotación on-call)"),
        f"- Firmas requeridas: {sign_offs_due(run)}",
        "",
        "## Procedimiento ejecutado",
        f"- {provenance.summary(facts.get('provenance'))}",
        f"- Vigencia del documento: {procedure_standing.summary(facts.get('procedure_standing'))}",
        *[f"- {line}" for line in provenance.hashes(facts.get("provenance"))],
        "- Herramientas (§12.1, máquina del operador): "
        + provenance.tools(facts.get("provenance")),
        "",
        "## Causa del Rollback",
        f"{run.incident.options.reason or incident.get('symptoms') or 'n/d'}",
        "",
        *(["## Fallo y recuperación (§9)", *failure, ""] if failure else []),
        "## Versiones",
        *[f"- {line}" for line in final_state.versions(facts, events)],
        f"- Motivo de la elección: {target.reason if target else 'n/d'}",
        f"- Migraciones: {migration_summary(facts)}",
        f"- Camino de la base de datos: {database_path.summary(facts)}",
        f"- Paquetes: {package_summary(facts)}",
        f"- {backup_label(facts)}: "
        + (f"{backup.path} (sha256 {backup.sha256})" if backup else "n/d (sha256 n/d)"),
        f"- Backup pre-rollback: {safety.path if safety else 'n/d'}{_aside(safety)}",
        f"- Prueba de restauración: {trial_summary(facts)}",
        "",
        "## Timeline",
        f"![Línea de tiempo del rollback]({PICTURE})",
        "",
        *[f"- {ts[11:19]} UTC - {label}" for ts, label in timeline.milestones(events)],
        "",
        "## Impacto",
        f"- Usuarios afectados / funcionalidades: {run.incident.options.impact or 'n/d'}",
        "- Usuarios afectados (%): "
        + (
            f"{run.incident.options.users_affected:g} % (declarado, --users-affected)"
            if run.incident.options.users_affected is not None
            else "n/d (no declarado: --users-affected)"
        ),
        f"- Downtime total: {minutes(timeline.downtime(events))} (el del rollback: detención → "
        "primer health 200)",
        f"- Impacto del incidente: {_incident_span(events)}",
        f"- Visto por la sonda: {outage_seen.describe(events)}",
        f"- Datos perdidos: {loss_text}",
        *([] if final_state.recovery_state(events) else data_statement.markdown(facts)),
        *[
            f"- Aviso {NOT_DELIVERED} ({e['kind']}): {e['target']}: {e['reason']}"
            for e in events
            if e["event"] == "notification_warning"
        ],
        "",
        "## Pasos no seleccionados",
        *([f"- {name}" for name in _deselected(events)] or ["- ninguno"]),
        "",
        "## Criterios de Éxito (§7.1)",
        "| Criterio | Medido | Estado |",
        "|---|---|---|",
        *[f"| {name} | {value} | {mark(ok)} |" for name, value, ok in criteria(events)],
        "",
        "## Duración por Etapa (Anexo B)",
        "| " + " | ".join(ANEXO_B_COLUMNS) + " |",
        "|---|---|---|---|",
        *["| " + " | ".join(row) + " |" for row in anexo_b(run.site.env.budgets, events)],
        "",
        "## Causa Raíz",
        "[Análisis de causa raíz - puede completarse después: rollbook addendum --root-cause]",
        *_evidence(events),
        "",
        "## Acciones Correctivas",
        *[f"- [{'x' if item.get('done') else ' '}] {follow_up_line(item)}" for item in to_do],
        "",
        "## Lecciones Aprendidas",
        "- [Lección 1]",
        "",
        f"Journal: {run.incident.journal.path.name}",
    ]
    return "\n".join(lines + (["", *extra] if extra else [])) + "\n"


def write_incident_report(
    run: Run, outcome: str = "EN CURSO", extra: list[str] | None = None
) -> Path:
    path = report_path(run)
    picture = timeline_picture.svg(
        list(read_journal(run.incident.journal.path)), run.site.env.budgets
    )
    (path.parent / PICTURE).write_text(picture, encoding="utf-8")
    (path.parent / PICTURE).chmod(0o600)
    path.write_text(render_markdown(run, outcome, extra), encoding="utf-8")
    path.chmod(0o600)
    return path


WATCH = "30m"  # §8.2: "Checklist de Validacion Extendida (30 min)"
FINAL_STATE = "- Estado final: "  # the markdown's line §8.2's watch sets (watch_result.py)


def log_window(fact: dict[str, Any] | None) -> str:
    """§8.1's log criterion as observed: the window judged, beside the document's."""
    if not fact:
        return ""
    seconds, asked = float(fact["seconds"]), float(fact.get("asked", fact["seconds"]))
    unread = fact.get("unread") or []
    left = f"; SIN LEER: {', '.join(unread)}" if unread else ""  # never said clean
    if seconds >= asked:
        return f"logs sin errores en los últimos {asked:.0f} s{left}"
    return (
        f"logs sin errores desde el último inicio de los servicios ({seconds:.0f} s, no los "
        f"{asked:.0f} s del documento: antes, {fact.get('before_start', 0)} líneas de error "
        f"de la versión que corría){left}"
    )


def backup_label(facts: dict[str, Any]) -> str:
    """Paso 7.1's "Backup utilizado": on the migrate way the backup was verified, not restored."""
    chosen = DatabasePath.read(facts)
    if chosen and chosen.path == "migrate":
        return "Backup verificado (Paso 1.3), no restaurado: migraciones revertidas en el Paso 3.0"
    return "Backup utilizado"


def _logs_judged(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What Paso 6.5's §8.1 check read of the logs (checklist.recent_log_errors), or None."""
    found = [
        e["value"]
        for e in events
        if e["event"] == "fact" and e["paso"] == "6.5" and e["key"] == "recent_log_errors"
    ]
    return found[-1] if found else None


def _incident_span(events: list[dict[str, Any]]) -> str:
    """From the problem's first error line (timeline.problem_time) to the service answering
    again (the rollback's first health 200); said otherwise when this run did not end it."""
    first = timeline.problem_time(events)
    if final_state.recovery_state(events):
        return "sin cerrar: la corrida volvió al estado previo (§9); el incidente sigue abierto"
    back = timeline.health_back_time(events)
    observed = SymptomsObserved.read(timeline.facts(events))
    if not first:
        seen = observed is not None and observed.log_errors is not None
        return (
            "n/d: ningún error en los logs antes de la corrida (Paso 1.1)"
            if seen
            else "n/d: logs no observados en el Paso 1.1 (logs.files)"
        )
    if not back:
        return (
            f"desde el primer error en los logs, {first[11:19]} UTC; sin health 200 en esta corrida"
        )
    return (
        f"{minutes(timeline.seconds_between(first, back))} desde el primer error en los logs "
        f"({first[11:19]} UTC, Paso 1.1) hasta el primer health 200"
    )


def _evidence(events: list[dict[str, Any]]) -> list[str]:
    """For the root cause: the first error lines of the release that was running, as Paso 1.1
    read them before any change (since its services started), else as §8.1's check read them
    (the document's window, before the services' last start)."""
    observed = SymptomsObserved.read(timeline.facts(events))
    lines = ((observed and observed.log_errors) or {}).get("lines", [])
    said = "la versión en marcha antes del rollback, desde el inicio de sus servicios (Paso 1.1)"
    if not lines:
        lines = (_logs_judged(events) or {}).get("before_lines", [])
        said = "antes del último inicio de los servicios (la versión revertida, §8.1)"
    if not lines:
        return []
    return [
        f"- Evidencia: primeras líneas de error en los logs de {said}:",
        *[f"  - `{line.replace('`', chr(39))[:300]}`" for line in lines],
    ]


def stable(run: Run, events: list[dict[str, Any]]) -> str:
    """ESTABLE only when §8.1's checklist (Paso 6.5) passed in this run, with §8.2's watch to run
    (or its result, once `--watch` appended it to the record)."""
    passed = any(
        e["event"] == "paso_finished" and e["paso"] == "6.5" and e["status"] == "passed"
        for e in events
    )
    if not passed:
        return "NO DECLARADO ESTABLE: el checklist de §8.1 (Paso 6.5) no pasó en esta corrida"
    logs = _logs_judged(events)
    judged = f": {log_window(logs)}" if logs else ""
    return (
        f"ESTABLE (§8.1 verificado{judged}; §8.2 pendiente: pytest features/validation.feature "
        f"--env={run.site.env.name} --watch {WATCH} --incident {run.incident.id})"
    )


def _aside(safety: SafetyDump | None) -> str:
    aside = safety.database if safety else None
    return f" (la base de datos misma, apartada en el Paso 4.3 como {aside})" if aside else ""


def follow_ups(run: Run) -> list[dict[str, Any]]:
    """The procedure's follow-ups with their owner and due time, and the database the swap
    strategy kept aside, if any."""
    due = {
        None: "al cierre",
        "watch": "30 min después del cierre",
        "post_mortem": f"antes del {_post_mortem_due(run)}",
    }
    items = [
        {
            "action": action.format(env=run.site.env.name, incident=run.incident.id),
            "role": role,
            "owner": _owner(run, role),
            "due": due[when],
        }
        for action, role, when in FOLLOW_UPS
    ]
    told = _told(run, "end", CLOSING)  # §7.3's "Notificar a Product Owner": Paso 7.2's notice
    for item in items:
        if item["action"] == TELL_PRODUCT_OWNER and told:
            item["done"] = told
    standing = run.incident.journal.facts().get("procedure_standing") or {}
    if standing.get("problems"):  # the document's owner (its front matter: Equipo DevOps)
        items.append(
            {
                "action": f"Poner al día {standing.get('id') or 'el procedimiento'} "
                "(§14, revisión): " + "; ".join(standing["problems"]),
                "role": "devops",
                "owner": _owner(run, "devops"),
                "due": due["post_mortem"],
            }
        )
    safety = run.records.known(SafetyDump)
    aside = safety.database if safety else None
    if safety and aside and run.records.begun(DatabaseSwapped):
        dump = safety.path
        items.append(
            {
                "action": f"Borrar la base de datos {aside} cuando ya no se necesite (volcada en "
                f'{dump}): DROP DATABASE "{aside}"',
                "role": "dba",
                "owner": _owner(run, "dba"),
                "due": due["post_mortem"],
            }
        )
    return items


def _told(run: Run, kind: str, roles: tuple[str, ...]) -> str | None:
    """Evidence that the `kind` notice reached every person holding one of `roles` on their own
    channel (notification_sent under their notify_env); None when anyone of them was not."""
    holders = people.holding(run.site.env, list(roles))
    sent = notify.delivered(run, kind)
    if not holders or any(p.notify_env not in sent for p in holders):
        return None
    return "hecho: el aviso de fin del Paso 7.2 llegó a " + "; ".join(
        f"{p.name} ({p.notify_env}, {sent[str(p.notify_env)][11:19]} UTC)" for p in holders
    )


def _post_mortem_due(run: Run) -> str:
    due = run.incident.started.astimezone(UTC) + timedelta(seconds=run.site.env.post_mortem_within)
    return f"{due:%Y-%m-%d %H:%M} UTC"


def _owner(run: Run, role: str) -> str | None:
    """Who holds `role` (names, with contact); the role alone where the environment lists no
    people; None where it lists people and nobody holds the role."""
    holders = people.holding(run.site.env, [role])
    if holders:
        return ", ".join(f"{p.name} ({p.contact or p.identity})" for p in holders)
    return None if run.site.env.people else f"rol {role} (el ambiente no lista people)"


# §7.1's minimum content of the incident's markdown (its sections)
MINIMUM_SECTIONS = ("## Información del Incidente", "## Versiones", "## Timeline", "## Impacto")


def orphans(items: list[dict[str, Any]]) -> list[str]:
    """The closing actions whose role nobody of the environment's people holds."""
    return [f"{item['action']} ({item['role']})" for item in items if not item["owner"]]


def follow_up_line(item: dict[str, Any]) -> str:
    owner = item["owner"] or f"NADIE tiene el rol {item['role']}"
    done = f" — {item['done']}" if item.get("done") else ""
    return f"{item['action']} — {owner} [{item['role']}] — {item['due']}{done}"


def migration_summary(facts: dict[str, dict[str, Any]]) -> str:
    """Paso 1.2's classification: same / reversible (with the commands) / restore, and why."""
    plan = MigrationPlan.read(facts)
    if not plan:
        return "n/d"
    commands = f" ({'; '.join(plan.commands)})" if plan.commands else ""
    return f"{plan.kind}: {plan.why}{commands}"


def trial_summary(facts: dict[str, dict[str, Any]]) -> str:
    """Paso 1.3's trial restore (database.verify_by_restore): measured, and Etapa 4 predicted."""
    trial = TrialRestore.read(facts)
    if not trial:
        return "no pedida (database.verify_by_restore)"
    rate = trial.bytes / trial.seconds / 2**20
    return (
        f"{trial.seconds:.1f} s para {trial.bytes / 2**20:.0f} MiB ({rate:.1f} MiB/s); "
        f"Etapa 4 prevista: {trial_restore.describe(trial.predicted)}"
    )


def package_summary(facts: dict[str, dict[str, Any]]) -> str:
    """Paso 3.2: how the packages were installed and checked, per app host."""
    hosts = (facts.get("package_set") or facts.get("packages_installed") or {}).get("hosts", {})
    said = "; ".join(f"{spec}: {text}" for spec, text in hosts.items()) or "n/d"
    switched = VenvRenamed.read(facts)  # app.force_reinstall: new_venv
    built = VenvBuilt.read(facts)
    for spec, part in (built.hosts if built else {}).items():
        if "in_place" in part:
            said += f" — {spec}: sin venv nuevo ({part['in_place']}): reinstalado en su lugar"
        if part.get("reinstalled"):
            said += (
                f" — {spec}: reinstalados desde su wheel por un archivo distinto de su "
                f"RECORD: {', '.join(part['reinstalled'])}"
            )
        if part.get("left"):
            said += (
                f" — {spec}: distintos de su RECORD, dejados como los deja una reinstalación "
                f"en su lugar: {', '.join(part['left'])}"
            )
    renamed_back = VenvRenamedBack.read(facts)
    back = renamed_back.hosts if renamed_back else []
    if switched:
        said += (
            f" — venv nuevo (copia del anterior con los paquetes de la versión objetivo, "
            f"cada archivo comparado con el RECORD de su wheel) construido antes de detener "
            f"servicios (Paso 3.4) y renombrado a {switched.live}"
        )
        kept = [spec for spec in switched.hosts if spec not in back]
        if kept:
            said += f"; el anterior queda en {switched.aside} ({', '.join(kept)})"
        if back:
            said += f"; §9 devolvió el anterior a {switched.live} ({', '.join(back)})"
    return said
