"""The run as a picture: one bar per Paso that ran on a time axis, grouped by Etapa with its Anexo
B budget drawn behind, the downtime shaded, the health probe's answers as points, a failed Paso in
red and §9 after it. Inline SVG, no external assets: report.html stays one self-contained file,
and the markdown's copy (timeline.svg beside it) is hashed and signed with the rest."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from rollbook.core import timeline

WIDTH, LABELS, ROW, TOP = 960, 190, 18, 46  # px: whole width, label column, one row, header
COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e"}
PROBE_OK, PROBE_BAD = "#2e7d32", "#c62828"


def _bars(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each Paso that ran: its name, start, end and status (the call's result, else the last)."""
    bars: dict[str, dict[str, Any]] = {}
    for event in events:
        paso = str(event.get("paso"))
        if event["event"] == "paso_started":
            bars[paso] = {
                "paso": paso,
                "name": event.get("name", ""),
                "start": event["ts"],
                "end": event["ts"],
                "status": "running",
            }
        elif event["event"] == "paso_finished" and paso in bars:
            bars[paso]["end"] = event["ts"]
            if event.get("phase") == "call" or event["status"] != "passed":
                bars[paso]["status"] = event["status"]
    started = next((e["ts"] for e in events if e["event"] == "recovery_started"), None)
    if started is not None:
        ended = next((e for e in events if e["event"] == "recovery_finished"), None)
        bars["§9"] = {
            "paso": "§9",
            "name": "Rollback del rollback",
            "start": started,
            "end": ended["ts"] if ended else events[-1]["ts"],
            "status": "passed" if ended and ended.get("ok") else "failed",
        }
    return list(bars.values())


def svg(events: list[dict[str, Any]], budgets: dict[str, float]) -> str:
    """The picture of `events`; '' when no Paso ran."""
    bars = _bars(events)
    if not bars:
        return ""
    start = events[0]["ts"]
    total = max(timeline.seconds_between(start, events[-1]["ts"]) or 0.0, 1.0)
    scale = (WIDTH - LABELS - 10) / total

    def x(ts: str) -> float:
        return LABELS + (timeline.seconds_between(start, ts) or 0.0) * scale

    height = TOP + ROW * len(bars) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="rollbook-timeline" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
        'font-size="11"><title>Línea de tiempo del rollback</title>'
    ]
    stop, back = timeline.services_stop_time(events), timeline.health_back_time(events)
    if stop is not None:
        end = x(back) if back is not None else WIDTH - 10
        parts.append(
            f'<rect class="downtime" x="{x(stop):.1f}" y="{TOP - 6}" '
            f'width="{max(end - x(stop), 1):.1f}" height="{height - TOP - 12}" '
            'fill="#ffcdd2" opacity="0.5"><title>Downtime: servicios detenidos → primer '
            "health 200</title></rect>"
        )
    parts += _etapas(bars, budgets, x, scale)
    for row, bar in enumerate(bars):
        y = TOP + row * ROW
        seconds = timeline.seconds_between(bar["start"], bar["end"]) or 0.0
        label = bar["paso"] if bar["paso"] == "§9" else f"Paso {bar['paso']}"
        parts.append(
            f'<text x="4" y="{y + 12}">{escape(label)}</text>'
            f'<rect class="paso {escape(bar["status"])}" data-paso="{escape(bar["paso"])}" '
            f'x="{x(bar["start"]):.1f}" y="{y + 2}" width="{max(seconds * scale, 2):.1f}" '
            f'height="{ROW - 5}" fill="{COLOURS.get(bar["status"], "#1565c0")}">'
            f"<title>{escape(label)} — {escape(bar['name'])}: {seconds:.1f} s, "
            f"{escape(bar['status'])}</title></rect>"
        )
    parts += _probe(events, x)
    parts += _axis(total, scale, height)
    parts.append("</svg>")
    return "".join(parts)


def _etapas(
    bars: list[dict[str, Any]], budgets: dict[str, float], x: Callable[[str], float], scale: float
) -> list[str]:
    """Behind each Etapa's rows: its Anexo B budget from its first Paso's start. An Etapa whose
    Pasos ran apart (swap's Paso 4.0 before Etapa 2) is drawn behind its longest run of rows."""
    blocks: list[tuple[str, list[int]]] = []
    for row, bar in enumerate(bars):
        etapa = bar["paso"].split(".")[0] if bar["paso"][:1].isdigit() else ""
        if blocks and blocks[-1][0] == etapa:
            blocks[-1][1].append(row)
        else:
            blocks.append((etapa, [row]))
    longest: dict[str, list[int]] = {}
    for etapa, rows in blocks:
        if etapa and len(rows) > len(longest.get(etapa, [])):
            longest[etapa] = rows
    out = []
    for etapa, rows in longest.items():
        budget = budgets.get(f"etapa{etapa}")
        if budget is None:
            continue
        first = bars[rows[0]]["start"]
        out.append(
            f'<rect class="budget" x="{x(first):.1f}" y="{TOP + rows[0] * ROW}" '
            f'width="{min(budget * scale, WIDTH - 10 - x(first)):.1f}" '
            f'height="{ROW * len(rows)}" fill="#e3f2fd">'
            f"<title>Etapa {etapa}: presupuesto {budget:.0f} s (Anexo B)</title></rect>"
        )
    return out


def _probe(events: list[dict[str, Any]], x: Callable[[str], float]) -> list[str]:
    """The probe's answers on the header lane: a point at each change, green for 200."""
    points = [e for e in events if e["event"] == "probe"]
    out = [f'<text x="4" y="{TOP - 22}">Sonda</text>'] if points else []
    for event in points:
        colour = PROBE_OK if event["status"] == 200 else PROBE_BAD
        out.append(
            f'<circle class="probe" cx="{x(event["ts"]):.1f}" cy="{TOP - 26}" r="4" '
            f'fill="{colour}"><title>{event["ts"][11:19]} UTC: {event["status"] or "sin respuesta"}'
            "</title></circle>"
        )
    return out


def _axis(total: float, scale: float, height: int) -> list[str]:
    step = next(s for s in (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if total / s <= 12)
    out = []
    tick = 0.0
    while tick <= total:
        left = LABELS + tick * scale
        out.append(
            f'<line x1="{left:.1f}" y1="{TOP - 8}" x2="{left:.1f}" y2="{height - 20}" '
            f'stroke="#ddd"/><text x="{left:.1f}" y="{height - 6}" '
            f'text-anchor="middle">{tick:.0f} s</text>'
        )
        tick += step
    return out
