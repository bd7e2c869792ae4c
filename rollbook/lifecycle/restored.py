"""§9's checks: the pre-rollback state the journal recorded, observed after the undo.

Nothing is declared restored that a check did not see: the database's content (or, under swap,
its identity), each app host's commit, static files and exact package set, each service that ran
before (restarted: every process younger than §9's restart and free of deleted files), the
workers ready by their configured method, and each URL answering as it did before the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rollbook.actions import database, dependencies, serving, static, web, workers
from rollbook.actions.database import swap
from rollbook.core.errors import StepFailed, UserError
from rollbook.core.host import Host
from rollbook.core.resources import Checkout, Venv
from rollbook.core.run import Run
from rollbook.core.state import AnswersBefore, CodeBefore, SafetyDump, WorkersBefore
from rollbook.core.waiting import wait_until
from rollbook.lifecycle.undo import Restart
from rollbook.services import manager_for


def check(
    run: Run,
    checks: list[tuple[str, bool, str]],
    facts: dict[str, dict[str, Any]],
    before: dict[str, bool],
    restarted: dict[str, Restart],
) -> None:
    """Each part of the pre-rollback state the journal recorded, observed now, into `checks`
    as (check, ok, detail): the database, each app host's code, static files and packages, each
    service (restarted ones by their processes), the workers by their method, each URL's answer."""

    def check(name: str, probe: Callable[[], tuple[bool, str]]) -> None:
        try:
            ok, detail = probe()
        except (StepFailed, UserError) as exc:
            ok, detail = False, str(exc)
        checks.append((name, ok, detail))
        run.incident.journal.write("recovery_check", check=name, ok=ok, detail=detail)

    def note(text: str) -> None:  # nothing to give back: said, never counted as a check
        run.incident.say(f"§9 recovery: {text}")
        run.incident.journal.write("recovery_note", note=text)

    safety = SafetyDump.read(facts)
    if safety and safety.oid:
        oid = safety.oid
        check(
            "the database is the pre-rollback one (swap)",
            lambda: swap.is_pre_rollback_database(run.site, oid),
        )
    if safety and safety.tables is not None:
        tables = safety.tables
        check(
            "database content equals the pre-rollback state",
            lambda: _same(database.fingerprints(run.site.postgres()), tables),
        )
    recorded_code = CodeBefore.read(facts)
    for spec, recorded in (recorded_code.hosts if recorded_code else {}).items():
        host = run.site.host(spec)
        check(
            f"{spec} code at {recorded['commit'][:12]}",
            lambda h=host, r=recorded: _same(
                Checkout(h, run.site.env.app.path).head(), r["commit"]
            ),
        )
        if recorded.get("static", {}).get("sha256"):
            check(
                f"{spec} static files as recorded",
                lambda h=host, r=recorded: _same(
                    static.content_hash(h, run.site.env), r["static"]["sha256"]
                ),
            )
        check(
            f"{spec} packages as recorded",
            lambda h=host, r=recorded: _same(
                dependencies.comparable(Venv(h, run.site.env.app).freeze(), r["freeze"]),
                sorted(r["freeze"]),
            ),
        )
    for key, was_running in before.items():
        spec, name = key.rsplit(" ", 1)
        host = run.site.host(spec)
        if was_running and spec in restarted:
            check(
                f"{spec} {name} restarted after the restore (its processes observed)",
                lambda h=host, n=name, r=restarted[spec]: _fresh(run, h, n, r),
            )
        else:
            manager = manager_for(host, run.site.env.services)
            check(
                f"{spec} {name} running={was_running}",
                lambda m=manager, n=name, w=was_running: _same(m.is_running(n), w),
            )
    workers_before = WorkersBefore.read(facts)
    ready_before = workers_before.hosts if workers_before else {}
    for spec, restart in restarted.items():
        waiting = [n for n in run.site.env.services.workers if before.get(f"{spec} {n}")]
        idle = [n for n in run.site.env.services.workers if n not in waiting]
        if waiting and idle:  # the method checks every worker of the host, or none
            note(
                f"{spec} workers not checked by their method: {', '.join(idle)} did not run "
                "before the run (their processes are checked above)"
            )
            continue
        was = ready_before.get(spec, {"ready": True})
        if waiting and not was["ready"]:
            note(f"{spec} workers not checked: not ready before the run either ({was['said']})")
            continue
        if not waiting:
            continue
        host = run.site.host(spec)
        check(
            f"{spec} workers ready ({', '.join(waiting)})",
            lambda h=host, r=restart: (
                True,
                workers.check_host(h, run.site.env, run.records, r.marks, wait=True),
            ),
        )
    answers = AnswersBefore.read(facts)
    for key, value in (answers.urls if answers else {}).items():
        was = web.Answer.recorded(value)
        check(
            f"{key} answers {was.said()} as before the run",
            lambda k=key, w=was: _answers_as_before(run, k, w),
        )


def _fresh(run: Run, host: Host, name: str, restart: Restart) -> tuple[bool, str]:
    """The service runs again, every process of it younger than §9's restart and free of files
    the restore deleted."""
    manager = manager_for(host, run.site.env.services)
    if not wait_until(lambda: manager.is_running(name), run.site.env.services.start_timeout):
        return (
            False,
            f"{name} is not running {run.site.env.services.start_timeout:.0f} s after §9 started "
            "it",
        )
    return serving.fresh_since(serving.observe(host, run.site.env, manager, name), restart.uptime)


def _answers_as_before(run: Run, key: str, was: web.Answer) -> tuple[bool, str]:
    """The URL answers as it did before the run: the same status, and the same body where two
    reads before the run agreed on it; the restarted services may warm up for their start
    timeout."""

    def as_before() -> str | None:
        now = web.answer(run.site, key)
        return f"answers {now.said()}" if now.same_as(was) else None

    said = wait_until(as_before, run.site.env.services.start_timeout, interval=1)
    if said:
        return True, said
    return False, f"answers {web.answer(run.site, key).said()}, {was.said()} before the run"


def _same(found: Any, expected: Any) -> tuple[bool, str]:
    if found == expected:
        return True, "as recorded"
    if isinstance(found, dict) and isinstance(expected, dict):
        diff = [k for k in sorted(set(found) | set(expected)) if found.get(k) != expected.get(k)]
        return False, f"differs in: {', '.join(diff)}"
    if isinstance(found, list) and isinstance(expected, list):
        return (
            False,
            f"differs: +{sorted(set(found) - set(expected))} -{sorted(set(expected) - set(found))}",
        )
    return False, f"found {found!r}, expected {expected!r}"
