"""Stacks shaped differently from the sandbox's, rolled back end to end: workers whose broker has
no remote control, and an app without celery whose worker is a management command and whose
static pipeline has a second step (a worker checked by its process alone: test_workers.py)."""

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rollbook.sandbox.application import manage
from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.shell import wait_for
from rollbook.sandbox.variant import write_variant
from tests.e2e import compatibility
from tests.e2e.sandbox_state import INCIDENT, dump, env, fast, run_feature, services, state
from tests.e2e.test_faults import make_fault

pytestmark = pytest.mark.e2e
COMPLETED, RESTORED = "ROLLBACK COMPLETADO", "FALLIDO — ESTADO PREVIO RESTAURADO"
PLAIN = "no celery: a management-command worker, two static steps"


def restart_worker() -> None:
    supervisorctl("restart", "celery")


@pytest.fixture
def no_remote_control(sandbox_reset: None) -> Iterator[None]:
    """The app's own setting turns celery's remote control off, as a broker without broadcast
    (SQLAlchemy/database transports, SQS) has none: `celery inspect` can never answer."""
    app_env = load_layout().app_env_file
    before = app_env.read_text()
    app_env.write_text(before + "CELERY_REMOTE_CONTROL=off\n")
    restart_worker()
    yield
    app_env.write_text(before)
    restart_worker()


def worker_checks(done: object) -> list[str]:
    facts = done.facts()  # type: ignore[attr-defined]
    return [*facts["worker_methods"]["hosts"].values(), *facts["workers_checked"]["hosts"].values()]


def test_a_broker_without_remote_control(no_remote_control: None, tmp_path: Path) -> None:
    done = run_feature(tmp_path, *INCIDENT, extra_env=write_variant(tmp_path, fast))
    compatibility.record("celery, broker without remote control", done, "rollback", COMPLETED)
    assert done.outcome == COMPLETED, dump(done)
    methods, checked = worker_checks(done)
    assert methods == {"celery": "celery log (redis: no remote control)"}, methods
    assert checked.startswith("celery: celery log (redis: no remote control) — "), checked
    assert checked.endswith(" ready."), checked
    assert "workers on local://: celery by celery log (redis: no remote control)" in done.output


@pytest.fixture
def quiet_worker(no_remote_control: None) -> Iterator[None]:
    """The worker as celery runs it without `--loglevel`: at WARNING, its INFO "ready." line is
    never written (the broker still without remote control)."""
    conf = Path(env().services.supervisor_conf)
    before = conf.read_text()
    start = before.index("[program:celery]\n")
    end = before.index("\n", before.index("command=", start))
    conf.write_text(
        before[:start] + before[start:end].replace(" --loglevel INFO", "") + before[end:]
    )
    supervisorctl("update")  # celery restarted with its new command line
    wait_for(lambda: services()["celery"] == "RUNNING", "celery running again", 30)
    try:
        yield
    finally:
        conf.write_text(before)
        supervisorctl("update")


def test_a_worker_whose_log_level_hides_its_ready_line_is_refused_before_any_change(
    quiet_worker: None, tmp_path: Path
) -> None:
    before = state()
    done = run_feature(tmp_path, *INCIDENT, "--dry-run", extra_env=write_variant(tmp_path, fast))
    assert done.outcome != "PLAN — SIN CAMBIOS", dump(done)
    assert done.pasos()["2.1"] == "failed", dump(done)
    [detail] = [
        e["detail"]
        for e in done.journal()
        if e["event"] == "paso_finished" and e["status"] == "failed"
    ]
    assert "runs at log level WARNING" in detail and "`--loglevel INFO`" in detail, detail
    assert "services.ready.celery.command" in detail, detail
    assert not state().differences(before)  # refused before anything stopped


def supervisorctl(*args: str) -> None:
    services = env().services
    subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def plain_worker(sandbox_reset: None) -> Iterator[str]:
    """An app as it is without celery: its worker is a long-running management command
    (`manage.py run_worker`, a program named after its role), and its deploy builds a CSS bundle
    after collectstatic (`manage.py build_bundle`) that a page needs. Yields the bundle's URL."""
    layout = load_layout()
    supervisorctl("stop", "celery")
    supervisorctl("start", "worker")
    manage(layout, "build_bundle")  # the deploy pipeline's second static step
    yield f"http://127.0.0.1:{layout.ports.nginx}/static/core/bundle.css"
    supervisorctl("stop", "worker")
    supervisorctl("start", "celery")


def plain_worker_stack(bundle: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        fast(data)
        data.pop("celery")
        send_job = [f"{data['app']['venv']}/bin/python", "manage.py", "send_job"]
        data["services"].update(
            app=["gunicorn", "worker"],
            workers=["worker"],
            ready={"worker": {"log": r"run_worker ready", "roundtrip": send_job}},
        )
        data["app"]["static_steps"] = [
            ["manage", "collectstatic", "--noinput"],
            ["manage", "build_bundle"],
        ]
        data["app"]["critical_packages"] = ["Django", "djangorestframework"]
        data["health"]["critical"]["bundle"] = bundle
        # rollbook's own pytest runs them (the celery test, which needs the app's code, skips)
        data["health"]["smoke_runner"] = "operator"
        data["logs"]["files"] = [data["logs"]["files"][0], str(load_layout().log / "worker.log")]

    return change


def test_an_app_without_celery_and_its_own_static_steps(plain_worker: str, tmp_path: Path) -> None:
    variant = write_variant(tmp_path, plain_worker_stack(plain_worker))
    done = run_feature(tmp_path, *INCIDENT, extra_env=variant)
    compatibility.record(PLAIN, done, "rollback", COMPLETED)
    assert done.outcome == COMPLETED, dump(done)
    methods, checked = worker_checks(done)
    assert methods == {"worker": "log"}, methods
    assert checked.startswith("worker: log — run_worker ready: pid "), checked
    # Paso 5.2: a real job through the RQ-style queue, answered by the worker started there
    [started] = [
        e["value"]["hosts"]["local://"]
        for e in done.journal()
        if e["event"] == "fact" and e["key"] == "workers_checked" and e["paso"] == "5.2"
    ]
    pid = started.split("pid ", 1)[1].split(",")[0]
    assert "; job round-trip: job " in started and f"done by worker {pid}: " in started, started
    facts = done.facts()
    assert facts["static_files"]["steps"][1] == "manage build_bundle"
    smoke = facts["smoke"]["smoke_tests"]
    assert smoke["runner"] == "operator" and "passed, 1 skipped in" in smoke["summary"], smoke
    assert http_status(plain_worker) == 200
    # §8.2 on the same stack: the job goes through the queue and back, never "skipped"
    check = run_feature(
        tmp_path, "--env=sandbox", feature="features/validation.feature", extra_env=variant
    )
    assert check.pasos()["8.2 — Tareas celery ejecutándose"] == "passed", dump(check)
    jobs = [
        e
        for e in check.journal()
        if e["event"] == "command"
        and e["argv"][-1:] == ["send_job"]
        and e["paso"].startswith("8.2")
    ]
    assert jobs and all(e["exit"] == 0 for e in jobs), jobs


def test_an_app_without_celery_recovered_as_it_was(plain_worker: str, tmp_path: Path) -> None:
    options = make_fault("port-held")  # Paso 5.1 fails: §9 runs
    variant = write_variant(tmp_path, plain_worker_stack(plain_worker))
    done = run_feature(tmp_path, *INCIDENT, *options, extra_env=variant)
    compatibility.record(PLAIN, done, "Paso 5.1 fails (port held): §9", RESTORED)
    assert done.outcome == RESTORED, dump(done)
    checks = [e for e in done.journal() if e["event"] == "recovery_check"]
    assert checks and all(e["ok"] for e in checks), checks
    answers = [e["check"] for e in checks if " answers " in e["check"]]
    assert any(a.startswith(f"local:// {plain_worker} answers 200") for a in answers), answers
    fresh = [e for e in checks if "restarted after the restore" in e["check"]]
    assert fresh and all(e["ok"] for e in fresh), checks  # the worker too: observed, not assumed
    assert http_status(plain_worker) == 200
