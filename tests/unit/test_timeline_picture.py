"""The run as a picture: what it draws is what the journal says ran."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rollbook.record.timeline_picture import LABELS, ROW, TOP, WIDTH, svg

NS = "{http://www.w3.org/2000/svg}"


def at(second: int) -> str:
    return f"2026-11-29T03:{second // 60:02d}:{second % 60:02d}.000+00:00"


def paso(number: str, start: int, end: int, status: str) -> list[dict[str, object]]:
    return [
        {"event": "paso_started", "ts": at(start), "paso": number, "name": f"paso {number}"},
        {
            "event": "paso_finished",
            "ts": at(end),
            "paso": number,
            "phase": "call",
            "status": status,
        },
    ]


EVENTS = [
    {"event": "run_started", "ts": at(0)},
    {"event": "probe", "ts": at(1), "status": 500},
    *paso("1.1", 1, 3, "passed"),
    *paso("2.2", 3, 10, "passed"),
    {"event": "intent", "ts": at(4), "paso": "2.2"},
    {"event": "probe", "ts": at(5), "status": 502},
    {"event": "paso_finished", "ts": at(10), "paso": "2.3", "phase": "setup", "status": "skipped"},
    *paso("5.1", 10, 40, "failed"),
    {"event": "recovery_started", "ts": at(41)},
    {"event": "probe", "ts": at(70), "status": 200},
    {"event": "recovery_finished", "ts": at(80), "ok": True},
]


def test_one_bar_per_paso_that_ran_a_failed_one_red_and_section_9_after_it() -> None:
    picture = ET.fromstring(svg(EVENTS, {"etapa2": 120, "etapa5": 60}))
    bars = {r.get("data-paso"): r for r in picture.iter(f"{NS}rect") if r.get("data-paso")}
    assert list(bars) == ["1.1", "2.2", "5.1", "§9"]  # 2.3 never ran: no bar
    assert "failed" in bars["5.1"].get("class", "") and bars["5.1"].get("fill") == "#c62828"
    assert float(bars["§9"].get("x", 0)) > float(bars["5.1"].get("x", 0))
    budgets = [r for r in picture.iter(f"{NS}rect") if r.get("class") == "budget"]
    assert len(budgets) == 2  # etapa 1 has no budget here: nothing drawn behind it
    [down] = [r for r in picture.iter(f"{NS}rect") if r.get("class") == "downtime"]
    # from Paso 2.2's stop command (4 s into an 80 s run) to the end: no health 200 came
    assert float(down.get("x", 0)) == round(LABELS + 4 * (WIDTH - LABELS - 10) / 80, 1)
    colours = [c.get("fill") for c in picture.iter(f"{NS}circle")]
    assert colours == ["#c62828", "#c62828", "#2e7d32"]


def test_nothing_ran_draws_nothing() -> None:
    assert svg([{"event": "run_started", "ts": at(0)}], {}) == ""


def test_an_etapa_run_apart_has_its_budget_behind_its_longest_run_of_rows() -> None:
    events = [{"event": "run_started", "ts": at(0)}]
    for row, number in enumerate(("1.1", "4.0", "2.1", "4.1", "4.2")):
        events += paso(number, row, row + 1, "passed")
    picture = ET.fromstring(svg(events, {"etapa4": 600}))
    [budget] = [r for r in picture.iter(f"{NS}rect") if r.get("class") == "budget"]
    assert (budget.get("y"), budget.get("height")) == (str(TOP + 3 * ROW), str(2 * ROW))
