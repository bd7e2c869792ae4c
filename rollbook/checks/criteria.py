"""The Criterios de Éxito that judge what a `when` observed (its fixture): each returns a
Verdict whose problems say what was observed against what the procedure or the environment
file demands, so that every `then` is one assertion on it. Empty observations are problems
too: a check that saw nothing checked nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rollbook.actions import web
from rollbook.core.config import Thresholds
from rollbook.core.site import Site
from rollbook.core.state import ChosenBackup, TrialRestore
from rollbook.core.verdict import Verdict, judged

NOTHING = "nothing was observed"


def within(
    figures: Mapping[str, Mapping[str, float]], limit: Any, what: str, unit: str = ""
) -> Verdict:
    """Each host's (or endpoint's) figures against a limit: a number, or an object whose
    attribute of each figure's name is its limit (the environment's thresholds)."""
    over = [
        f"{where} {name} {value:g}{unit} > {limit_of(limit, name):g}{unit}"
        for where, named in figures.items()
        for name, value in named.items()
        if value > limit_of(limit, name)
    ]
    return judged(over if figures else [NOTHING], what)


def limit_of(limit: Any, name: str) -> float:
    return float(limit if isinstance(limit, int | float) else getattr(limit, name))


def p95_within(latency: Mapping[str, Mapping[str, Mapping[str, float]]], budget: float) -> Verdict:
    """§8.1: each endpoint's p95 from every app host under the environment's budget."""
    p95 = {
        f"{host} {url}": {"p95": figures["p95_ms"]}
        for host, urls in latency.items()
        for url, figures in urls.items()
    }
    return within(p95, budget, "p95 over health.latency_budget_ms", " ms")


def resources_within(figures: Mapping[str, Mapping[str, float]], limits: Thresholds) -> Verdict:
    return within(figures, limits, "over the environment's thresholds")


def every_answered(answers: Mapping[str, object], what: str) -> Verdict:
    """Each host (or check) gave a non-empty answer."""
    silent = [where for where, said in answers.items() if not said]
    return judged(silent if answers else [NOTHING], what)


def every_counted(counts: Mapping[str, int], what: str) -> Verdict:
    """Each host counted something (more than zero)."""
    empty = [f"{where}: {count}" for where, count in counts.items() if count <= 0]
    return judged(empty if counts else [NOTHING], what)


def script_passed(script: Mapping[str, str], checks: tuple[str, ...]) -> Verdict:
    """§8.3's script: its checks, in order, each OK."""
    failed = [f"{name}: {said}" for name, said in script.items() if said != "OK"]
    order = [] if list(script) == list(checks) else [f"checks run {list(script)}, not {checks}"]
    return judged(failed + order, "script")


def sections_present(report: Path, sections: tuple[str, ...]) -> Verdict:
    text = report.read_text(encoding="utf-8")
    return judged((s for s in sections if s not in text), f"{report.name} lacks")


def refused(resolved: Mapping[str, Mapping[str, object]]) -> Verdict:
    """pip's dry-run of the target's packages, per host: what it refused."""
    return judged(str(answer["said"]) for answer in resolved.values() if not answer["ok"])


def follow_ups_owned(follow_ups: list[dict[str, object]]) -> Verdict:
    """Paso 7.3's closing actions: listed, each with a role and a due date."""
    unowned = [str(item) for item in follow_ups if not (item["role"] and item["due"])]
    return judged(unowned if follow_ups else ["no closing action listed"], "closing actions")


def maintenance_on(active: bool, answers: Mapping[str, int]) -> Verdict:
    """Paso 2.3: the page file in place, and the users' URLs answering 503 through the proxy."""
    problems = [] if active else ["the maintenance page file is not in place"]
    problems += [
        f"{url} answered {code or 'nothing'}, expected 503 with the maintenance page"
        for url, code in answers.items()
        if code != 503
    ]
    return judged(problems)


def traffic_back(active: bool, answers: Mapping[str, int], bound: float) -> Verdict:
    """Paso 5.3: the page file gone, and the users' URLs reaching the app through the proxy
    within services.start_timeout."""
    problems = ["the maintenance page file is still in place"] if active else []
    problems += [
        f"{url} answered {code or 'nothing'} through the proxy for {bound:.0f} s "
        "(services.start_timeout): the proxy does not reach the app"
        for url, code in answers.items()
        if code in web.PROXY_ERRORS
    ]
    return judged(problems)


def no_log_errors(log_errors: Mapping[str, list[str]]) -> Verdict:
    errors = [f"{where}: {lines[0]}" for where, lines in log_errors.items() if lines]
    return judged(errors, "errors in the logs since the start")


def hosts_answered(reached: Mapping[str, str], site: Site) -> Verdict:
    """Paso 2.1: every host of the inventory (role:spec) answered with its hostname."""
    silent = [
        f"{role}:{spec}"
        for role in ("app", "db")
        for spec in site.hosts(role)
        if not reached.get(f"{role}:{spec}")
    ]
    return judged(silent, "no hostname from")


def backup_checked(backup: ChosenBackup, trial: TrialRestore | None) -> Verdict:
    """Paso 1.3: the chosen backup has a size and a sha256, and its trial restore (if one ran)
    holds migrations."""
    problems = []
    if not (backup.size and backup.sha256):
        problems.append(f"{backup.path}: size {backup.size}, sha256 {backup.sha256 or 'none'}")
    if trial is not None and not trial.marker_rows:
        problems.append(f"the trial restore of {backup.path} holds no migrations")
    return judged(problems)
