"""What the outage probe (rollbook.lifecycle.outage_probe) saw, read back from its journal events:
from the services' stop to the first 200 it got, and the seconds without 200 after that."""

from __future__ import annotations

import itertools
from typing import Any

from rollbook.core import timeline


def seen_outage(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """{url, interval, seconds (without 200, from the services' stop to the probe's end), back
    (the time it answered 200 for good; None if it ended without)}; None without a probe or a
    stop."""
    started = next((e for e in events if e["event"] == "probe_started"), None)
    stop = timeline.services_stop_time(events)
    if started is None or stop is None:
        return None
    end = next((e["ts"] for e in events if e["event"] == "probe_stopped"), events[-1]["ts"])
    changes = [(e["ts"], e["status"]) for e in events if e["event"] == "probe"]
    at_stop = next((status for ts, status in reversed(changes) if ts <= stop), None)
    spans = [(stop, at_stop), *((ts, status) for ts, status in changes if ts > stop), (end, None)]
    seconds = sum(
        timeline.seconds_between(ts, following) or 0.0
        for (ts, status), (following, _) in itertools.pairwise(spans)
        if status not in (200, None)  # None: not asked yet
    )
    back = spans[-2][0] if spans[-2][1] == 200 else None
    return {
        "url": started["url"],
        "interval": started["interval"],
        "seconds": seconds,
        "back": back,
    }


def describe(events: list[dict[str, Any]]) -> str:
    """The probe's view, as the record says it."""
    seen = seen_outage(events)
    if seen is None:
        return "n/d (sin sonda o sin servicios detenidos)"
    asked = f"{seen['url']}, preguntado cada {seen['interval']:g} s desde el operador"
    if seen["back"] is None:
        return f"{seen['seconds']:.0f} s sin 200 y sin 200 al terminar ({asked})"
    return (
        f"{seen['seconds']:.0f} s sin 200; 200 de nuevo desde {seen['back'][11:19]} UTC ({asked})"
    )
