"""Every Criterio de Exito (each Entonces, `@then` or `@verifies`) checks an observation that can
be false. The catalog below names what each observes and how it is shown to fail: fed a false
observation here, on a `local://` Run, or made false on the real sandbox by the e2e test named;
the few not yet shown false by any test say so.
A new Entonces fails this test until it is catalogued. Writes docs/CRITERIA.md."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rollbook.actions.database.backups import Backup
from rollbook.actions.decision import Decision
from rollbook.core.config import NotifyTarget
from rollbook.core.run import Run
from rollbook.core.state import ChosenBackup, Deployed, Target, WebAnswer
from rollbook.lifecycle.recovery import Recovery
from tests.unit.git_repo import IDENTITY, git
from tests.unit.local_run import local_run

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "CRITERIA.md"
STEPS = ROOT / "steps"
Feed = Callable[[Run, Path], dict[str, Any]]  # the step's arguments, holding a false observation
E2E = "made false on the real sandbox: tests/e2e/"
NOT_YET = "not yet shown false by a test"


def lacking(tmp: Path) -> Path:
    report = tmp / "ROLLBACK-2026-11-29-0500.md"
    report.write_text("# Rollback Incident\n## Versiones\n")  # no Timeline, no Impacto
    return report


def recorded(run: Run, key: str, **value: Any) -> Run:
    run.incident.note(key, **value)
    return run


def release(kind: type[Deployed] | type[Target], **value: Any) -> Any:
    """A typed release record: `value` over a tag, a commit and a date of the tests'."""
    extra = {"reason": "the ledger's last validated"} if kind is Target else {}
    return kind(**({"tag": "deploy-1", "commit": "a" * 40, "date": 0} | extra | value))


def kept(run: Run, record: Any) -> Run:
    run.records.keep(record)
    return run


def past_the_tag(run: Run, tmp: Path) -> Run:
    """The app's checkout one commit past deploy-1, the target: not at the stable version."""
    app = tmp / "app"
    for args in (
        ["init", "-q"],
        [*IDENTITY, "commit", "-q", "--allow-empty", "-m", "1"],
        [*IDENTITY, "tag", "-a", "deploy-1", "-m", "d1"],
        [*IDENTITY, "commit", "-q", "--allow-empty", "-m", "2"],
    ):
        git(app, *args)
    return kept(run, release(Target))


def page_in_place(run: Run, tmp: Path) -> Run:
    (tmp / "www" / "maintenance.html").write_text("<h1>Mantenimiento</h1>")
    return run


def with_channels(run: Run, *sent: str) -> Run:
    """Two notification channels; a notice of each kind in `sent` reached only the first."""
    run.site.env = run.site.env.model_copy(
        update={"notify": [NotifyTarget(url_env="A"), NotifyTarget(url_env="B")]}
    )
    for kind in sent:
        run.incident.journal.write("notification_sent", paso="x", kind=kind, target="A (json)")
    return run


def critical(run: Run) -> Run:
    run.site.env = run.site.env.model_copy(
        update={
            "app": run.site.env.app.model_copy(update={"critical_packages": ["Django", "celery"]})
        }
    )
    return run


def old_backup() -> Backup:
    return Backup("/b/x.sql", 10, 0.0, 90_000.0, "plain", "ab")


# (module, function) → (what it observes, a false observation to feed, or the e2e test)
CATALOG: dict[tuple[str, str], tuple[str, Feed | str]] = {
    ("checklist", "services_active"): (
        "each service's state by its manager, and the workers by their method",
        lambda r, t: {"states": {"local:// gunicorn": False}},
    ),
    ("checklist", "no_recent_errors"): (
        "error lines of the logs since the services' last start (≤ logs.recent)",
        lambda r, t: {"run": r, "recent": ["app.log: ERROR boom"]},
    ),
    ("checklist", "under_budget"): (
        "p50/p95 of N requests per endpoint, from every app host",
        lambda r, t: {"run": r, "latency": {"local://": {"u": {"p95_ms": 9e9, "non_200": 0}}}},
    ),
    ("checklist", "under_thresholds"): (
        "load per core, memory used, database connections in use",
        lambda r, t: {"run": r, "figures": {"local://": {"load_per_core": 99.0}}},
    ),
    ("checklist", "task_returned"): (
        "the result of a real task sent through the broker and back",
        lambda r, t: {"answer": {"local://": ""}},
    ),
    ("checklist", "script_passed"): (
        "§8.3's four checks, in order, each OK or why not",
        lambda r, t: {"script": {"1. Health check": "OK", "2. Servicios": "celery stopped"}},
    ),
    ("closing", "report_complete"): (
        "the sections of the markdown written in Paso 7.1",
        lambda r, t: {"report": lacking(t)},
    ),
    ("closing", "end_delivered"): (
        "delivery of the completion notice to each channel (Paso 7.2)",
        lambda r, t: {"run": with_channels(r, "end")},
    ),
    ("closing", "follow_ups_listed"): (
        "the closing actions listed for their owners",
        lambda r, t: {"run": r, "follow_ups": []},
    ),
    ("closing", "recovered_ok"): (
        "§9's actions and checks of the restored state",
        lambda r, t: {"recovered": Recovery(actions=[("restore the database", "psql failed")])},
    ),
    ("code", "code_at_target"): (
        "git HEAD of every app host's checkout against the target tag's commit",
        lambda r, t: {"run": past_the_tag(r, t)},
    ),
    ("code", "critical_packages"): (
        "installed versions of app.critical_packages against the target's pins",
        lambda r, t: {
            "run": critical(r),
            "installed": {
                "local://": {
                    "freeze": ["Django==5.2.1", "celery==5.4.0"],
                    "pins": {"django": "4.2.16"},
                }
            },
        },
    ),
    ("code", "package_set"): (
        "pip freeze --all of every app host against the ledger's record",
        lambda r, t: {
            "run": kept(r, release(Target, packages=["Django==4.2.16"])),
            "installed": {"local://": {"freeze": ["Django==4.2.16", "extra==1"]}},
        },
    ),
    ("code", "static_restored"): (
        "files collected on each app host by the static steps",
        lambda r, t: {"run": r, "static_files": {"local://": 0}},
    ),
    ("database", "ahead_checked"): (
        "Paso 4.0's safety dump: its size and sha256 (swap: the shadow's migrations)",
        lambda r, t: {"run": r, "ahead": {"path": "/b/p.sql", "size": 0, "sha256": ""}},
    ),
    ("database", "reversed_to_target"): (
        "django_migrations rows of the deployed release's migrations after Paso 3.0",
        lambda r, t: {"run": r, "left_over": ["core.0002_customer_full_name_tier"]},
    ),
    ("database", "rows_accounted"): (
        "pre-rollback row keys missing after Paso 4.5 against its statement's not-recovered",
        lambda r, t: {"run": r, "unaccounted": {"core_order": 3}},
    ),
    ("database", "safety_checked"): (
        "the pre-rollback dump's size, sha256 and format (or the kept database)",
        lambda r, t: {"run": r, "safety": {"path": "/b/p.sql", "size": 0, "sha256": ""}},
    ),
    ("database", "no_connections"): (
        "pg_stat_activity: other sessions on the database, after ending them",
        lambda r, t: {"run": r, "connections_left": 1},
    ),
    ("database", "restored"): (
        "django_migrations rows of the restored database",
        lambda r, t: {"run": r, "restored_migrations": 0},
    ),
    ("database", "no_pending"): (
        "showmigrations --plan at the target: migrations not applied",
        lambda r, t: {"migrations": {"pending": ["core.0004_hotfix"]}},
    ),
    ("database", "recorded_migrations"): (
        "the restored django_migrations rows against the ledger's record",
        lambda r, t: {
            "run": kept(r, release(Target, migration_rows=["core.0001", "core.0002"])),
            "migrations": {"pending": [], "rows": ["core.0001"]},
        },
    ),
    ("database", "aside_dumped"): (
        "the kept database's dump: size and sha256 (swap, Paso 5.4)",
        lambda r, t: {"run": recorded(r, "pre_rollback_backup", path="/b/p.sql")},
    ),
    ("decision", "branch_is"): (
        "the Anexo C branch the tree took",
        lambda r, t: {"decision": Decision("PUEDE ESPERAR FIX", False, "r"), "branch": "ROLLBACK"},
    ),
    ("decision", "verdict"): (
        "whether the tree proceeds",
        lambda r, t: {"decision": Decision("ESCALAR", False, "r"), "verdict": "procede"},
    ),
    ("evaluation", "decision_recorded"): (
        "the decision of the incident record and the approval that covers it",
        lambda r, t: {
            "run": recorded(r, "approval", status="pendiente"),
            "incident": {"decision": "ROLLBACK INICIADO"},
        },
    ),
    ("evaluation", "target_resolves"): (
        "pip's own dry-run resolution of the target's packages on each host",
        lambda r, t: {"resolved": {"local://": {"ok": False, "said": "no matching distribution"}}},
    ),
    ("evaluation", "target_identified"): (
        "the chosen target tag against the deployed one",
        lambda r, t: {
            "run": kept(r, release(Deployed, tag="d-2")),
            "target": release(Target, tag="d-2"),
        },
    ),
    ("evaluation", "backup_verified"): (
        "the chosen backup's size and sha256 (and the trial restore's rows)",
        lambda r, t: {
            "run": r,
            "backup": ChosenBackup("/b/x.sql", 0, 0.0, 0.0, "plain", "", "local://", "", []),
        },
    ),
    ("evaluation", "start_delivered"): (
        "delivery of the start notice to each channel (Paso 1.4)",
        lambda r, t: {"run": with_channels(r, "start")},
    ),
    ("prerequisites", "backup_recent"): (
        "the newest valid backup's age and size",
        lambda r, t: {"run": r, "newest": old_backup()},
    ),
    ("prerequisites", "room_for_dump"): (
        "free bytes of the backups folder against the database's size",
        lambda r, t: {"space": {"free_bytes": 1, "needed_bytes": 2}},
    ),
    ("prerequisites", "database_answers"): (
        "what stops the credentials (CREATEDB, ownership for swap)",
        lambda r, t: {"problems": ["role app cannot create databases"]},
    ),
    ("prerequisites", "approval_covers"): (
        "the approval given against the environment's demand",
        lambda r, t: {"missing": "environment staging requires approval"},
    ),
    ("prerequisites", "channels_ok"): (
        "each notification channel: set, and its host answering",
        lambda r, t: {"run": r, "channels": {"X": "X: h:9 unreachable"}},
    ),
    ("services", "connected"): (
        "each inventory host's hostname, asked over its connection",
        lambda r, t: {"run": r, "reached": {}},
    ),
    ("services", "no_processes"): (
        "processes of the services left (manager's tree, name and folder)",
        f"{E2E}test_faults.py stray-worker (Paso 2.2)",
    ),
    ("services", "maintenance_active"): (
        "the page file and what the proxy answers (503)",
        lambda r, t: {"run": r},
    ),
    ("services", "web_running"): (
        "what the health URL answers after the start, and the services' log errors",
        lambda r, t: {"run": kept(r, WebAnswer(0, {"local://": 0})), "log_errors": {}},
    ),
    ("services", "workers_work"): (
        "each worker by its stack's method (command, log, inspect, process)",
        f"{E2E}test_faults.py broker-down (Paso 5.2)",
    ),
    ("services", "traffic_restored"): (
        "the page file gone and what the proxy answers (not 503)",
        lambda r, t: {"run": page_in_place(r, t)},
    ),
    ("validation", "health_ok"): (
        "what the health URL answers on each app host",
        lambda r, t: {"run": r, "health": {"local://": {"status": 500, "body": "boom"}}},
    ),
    ("validation", "smoke_ok"): (
        "the smoke tests' result and each endpoint's status",
        lambda r, t: {"smoke": {"smoke_tests": {"failed": "1 failed"}, "endpoints": {}}},
    ),
    ("validation", "critical_ok"): (
        "what each critical URL, a database query and the workers answer",
        lambda r, t: {"critical": {"login": 500, "database": True}},
    ),
    ("validation", "no_errors"): (
        "error lines written to the logs during the watch",
        lambda r, t: {"log_lines": ["app.log: Traceback"]},
    ),
}


def entonces() -> dict[tuple[str, str], str]:
    """(module, function) → Entonces text of every @then / @verifies in steps/."""
    found = {}
    for path in sorted(STEPS.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") in (
                    "then",
                    "verifies",
                ):
                    arg = decorator.args[0]
                    text = arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg)
                    found[(path.stem, node.name)] = str(text)
    return found


def test_every_entonces_is_catalogued() -> None:
    assert set(entonces()) == set(CATALOG)


@pytest.mark.parametrize(
    "key", [k for k, (_, feed) in CATALOG.items() if callable(feed)], ids="::".join
)
def test_a_false_observation_fails_the_criterion(
    key: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, name = key
    feed = CATALOG[key][1]
    assert callable(feed)
    step = getattr(importlib.import_module(f"steps.{module}"), name)
    with pytest.raises(AssertionError):
        step(**feed(local_run(tmp_path, monkeypatch), tmp_path))


def test_the_catalog_is_written_to_docs() -> None:
    texts = entonces()
    rows = [
        f"| {module} | {texts[(module, name)]} | {what} | "
        + ("fed a false observation: tests/unit/test_criteria_catalog.py" if callable(how) else how)
        + " |"
        for (module, name), (what, how) in sorted(CATALOG.items())
    ]
    fed = sum(1 for _, how in CATALOG.values() if callable(how))
    pending = sum(1 for _, how in CATALOG.values() if not callable(how) and NOT_YET in how)
    DOC.write_text(
        "# Criterios de Éxito: what each observes, and how it is shown to fail\n\n"
        "Generated by `tests/unit/test_criteria_catalog.py` (part of `make test`). Do not edit.\n"
        f"{len(rows)} criteria; {fed} fed a false observation in the unit tests, "
        f"{len(rows) - fed - pending} made false on the real sandbox by the e2e test named, "
        f"{pending} not yet shown false by any test.\n\n"
        "| steps | Entonces | observes | shown to fail |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n",
        encoding="utf-8",
    )
    assert DOC.read_text().count("\n| ") == len(CATALOG) + 1
