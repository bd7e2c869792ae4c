"""The Criterios de Éxito's verdicts (rollbook.checks.criteria): met observations give no
problem, each false one is named; an empty observation is a problem (it checked nothing). The
catalog (test_criteria_catalog.py) feeds every `then` a false observation."""

from __future__ import annotations

from pathlib import Path

from rollbook.checks import criteria
from rollbook.core.config import Thresholds
from rollbook.core.state import ChosenBackup


def test_figures_within_their_limits_and_over_them() -> None:
    latency = {"app1": {"/": {"p95_ms": 120.0}, "/api": {"p95_ms": 900.0}}}
    over = criteria.p95_within(latency, 500)
    assert over.problems == ["app1 /api p95 900 ms > 500 ms"]
    assert over.text.startswith("p95 over health.latency_budget_ms: app1 /api")
    assert criteria.p95_within({"app1": {"/": {"p95_ms": 120.0}}}, 500).problems == []
    assert criteria.p95_within({}, 500).problems == [criteria.NOTHING]
    limits = Thresholds()
    fine = {"app1": {name: 0.0 for name in Thresholds.model_fields}}
    assert criteria.resources_within(fine, limits).problems == []
    assert criteria.resources_within({}, limits).problems == [criteria.NOTHING]


def test_answers_and_counts_per_host() -> None:
    assert criteria.every_answered({"a": "4", "b": ""}, "no result").problems == ["b"]
    assert criteria.every_answered({"a": "4"}, "no result").problems == []
    assert criteria.every_counted({"a": 3, "b": 0}, "static").problems == ["b: 0"]
    assert criteria.every_counted({}, "static").problems == [criteria.NOTHING]


def test_the_script_its_checks_in_order(tmp_path: Path) -> None:
    checks = ("1. Health", "2. Servicios")
    assert criteria.script_passed({"1. Health": "OK", "2. Servicios": "OK"}, checks).problems == []
    wrong = criteria.script_passed({"2. Servicios": "OK", "1. Health": "OK"}, checks)
    assert len(wrong.problems) == 1 and "not" in wrong.problems[0]
    report = tmp_path / "r.md"
    report.write_text("## A\n## C\n")
    assert criteria.sections_present(report, ("## A", "## B", "## C")).problems == ["## B"]


def test_proxy_answers_and_log_errors() -> None:
    answers = {"http://x/": 200, "http://x/api": 502}
    back = criteria.traffic_back(False, answers, 30)
    assert [p.split(" through")[0] for p in back.problems] == ["http://x/api answered 502"]
    assert len(criteria.traffic_back(True, {"http://x/": 200}, 30).problems) == 1
    on = criteria.maintenance_on(True, answers)
    assert [p.split(",")[0] for p in on.problems] == [
        "http://x/ answered 200",
        "http://x/api answered 502",
    ]
    assert criteria.maintenance_on(True, {"http://x/": 503}).problems == []
    assert criteria.no_log_errors({"a": [], "b": []}).problems == []
    assert criteria.no_log_errors({"a": ["ERROR x", "ERROR y"]}).problems == ["a: ERROR x"]


def test_a_backup_checked_and_its_trial() -> None:
    good = ChosenBackup("/b/x.sql", 10, 0.0, 0.0, "plain", "ab", "local://", "", [])
    assert criteria.backup_checked(good, None).problems == []
    empty = ChosenBackup("/b/x.sql", 0, 0.0, 0.0, "plain", "", "local://", "", [])
    assert criteria.backup_checked(empty, None).problems == ["/b/x.sql: size 0, sha256 none"]
