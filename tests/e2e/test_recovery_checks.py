"""§9 verified like a rollback: the static root comes back exactly (from its snapshot), and every
configured URL must answer after the recovery as it did before the run; one that answers worse
makes the outcome INTERVENCION MANUAL, naming it."""

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook.sandbox.layout import Layout, load_layout
from rollbook.sandbox.shell import wait_for
from rollbook.sandbox.variant import write_variant
from tests.e2e import compatibility, sandbox_state
from tests.e2e.sandbox_state import (
    INCIDENT,
    Outcome,
    connect,
    dump,
    fast,
    git,
    run_feature,
    stale_processes,
    state,
)
from tests.e2e.test_faults import make_fault

pytestmark = pytest.mark.e2e
RESTORED = "FALLIDO — ESTADO PREVIO RESTAURADO"


@pytest.fixture
def built(sandbox_reset: None) -> Iterator[tuple[Layout, Path, str]]:
    """A file an extra deploy step built into the static root (as compress does): collectstatic
    does not make it, and a critical URL serves it."""
    layout = load_layout()
    path = layout.static_root / "core" / "built-by-deploy.css"
    path.write_text(".built { color: black; }\n")
    yield layout, path, f"http://127.0.0.1:{layout.ports.nginx}/static/core/built-by-deploy.css"


def rollback_failing_in_etapa5(tmp_path: Path, url: str) -> Outcome:
    def with_the_built_page(data: dict) -> None:
        fast(data)
        data["health"]["critical"]["built"] = url
        data["services"]["start_timeout"] = 10  # gunicorn answers 2-3 s after §9's restart

    options = make_fault("port-held")  # Paso 5.1 fails: §9 runs
    return run_feature(
        tmp_path, *INCIDENT, *options, extra_env=write_variant(tmp_path, with_the_built_page)
    )


def recovery_checks(done: Outcome) -> dict[str, tuple[bool, str]]:
    return {
        e["check"]: (e["ok"], e["detail"]) for e in done.journal() if e["event"] == "recovery_check"
    }


def test_every_url_answers_as_before_after_the_recovery(
    built: tuple[Layout, Path, str], tmp_path: Path
) -> None:
    layout, path, url = built
    done = rollback_failing_in_etapa5(tmp_path, url)
    stack = "the sandbox, a static file an extra deploy step built"
    compatibility.record(stack, done, "Paso 5.1 fails (port held): §9", RESTORED)
    assert done.outcome == RESTORED, dump(done)
    checks = recovery_checks(done)
    urls = {name: said for name, said in checks.items() if " answers " in name}
    # each app host's health URL, the endpoints and the critical URLs, the built one among them
    health = layout.env.health
    assert len(urls) == 1 + len({url, *health.endpoints, *health.critical.values()}), checks
    assert all(ok for ok, _ in urls.values()), urls
    [(name, said)] = [(n, s) for n, s in urls.items() if n.startswith(f"local:// {url} answers ")]
    body = name.removeprefix(f"local:// {url} answers ").removesuffix(" as before the run")
    assert body.startswith("200, body ") and said == (True, f"answers {body}"), (name, said)
    assert checks["local:// static files as recorded"] == (True, "as recorded"), checks
    assert path.read_text() == ".built { color: black; }\n"


def test_a_url_worse_after_the_recovery_is_named(
    built: tuple[Layout, Path, str], tmp_path: Path
) -> None:
    _, path, url = built
    deployed = git("rev-parse", "HEAD")

    def break_the_page_after_the_recovery() -> None:
        """What nothing recorded can give back: the file goes once §9 has put the code back and
        the static snapshot (Paso 3.3 had removed the file; the snapshot brings it back)."""
        moved = back = False
        for _ in range(3000):
            head = git("rev-parse", "HEAD")
            moved = moved or head != deployed
            back = back or (moved and head == deployed)
            if back and path.exists():
                path.unlink()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=break_the_page_after_the_recovery, daemon=True)
    watcher.start()
    done = rollback_failing_in_etapa5(tmp_path, url)
    watcher.join(timeout=5)
    assert done.outcome == "FALLIDO — INTERVENCION MANUAL", dump(done)
    checks = recovery_checks(done)
    [(ok, said)] = [s for n, s in checks.items() if n.startswith(f"local:// {url} answers 200")]
    assert not ok and said.startswith("answers 404, body ") and ", 200, body " in said, said
    assert said.endswith(" before the run") and url in done.output


def test_a_table_dropped_after_the_undo_is_named_never_restored(
    built: tuple[Layout, Path, str], tmp_path: Path
) -> None:
    """§9 observes what it restored: a table gone between its last restore action and its
    checks (dropped while it restarts the services) ends INTERVENCION MANUAL, naming it."""

    def drop_a_table_while_section_9_restarts() -> None:
        for _ in range(3000):
            journals = list(tmp_path.glob("*/journal.jsonl"))
            if journals and '"recovery_restart"' in journals[0].read_text():
                with connect() as conn:
                    conn.execute("DROP TABLE core_order")
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=drop_a_table_while_section_9_restarts, daemon=True)
    watcher.start()
    done = rollback_failing_in_etapa5(tmp_path, built[2])
    watcher.join(timeout=5)
    assert done.outcome == "FALLIDO — INTERVENCION MANUAL", dump(done)
    content = recovery_checks(done)["database content equals the pre-rollback state"]
    assert content == (False, "differs in: core_order"), content
    assert "ESTADO PREVIO RESTAURADO" not in done.output
    assert "database content equals the pre-rollback state: FALLÓ (differs in: core_order)" in (
        done.output
    )


@pytest.fixture
def autorestart(sandbox_reset: None) -> Iterator[None]:
    """The app's programs with supervisord's autorestart on, as real sites run them; put back
    (and the programs restarted from the sandbox's own config) afterwards."""
    services = load_layout().env.services
    conf = Path(str(services.supervisor_conf))
    ctl = [str(services.supervisorctl), "-c", str(conf)]
    text = conf.read_text()
    on = re.sub(
        r"(\[program:(?:gunicorn|celery)\][^\[]*?)autorestart=false", r"\1autorestart=true", text
    )
    assert on.count("autorestart=true") == 2, "the sandbox's gunicorn and celery sections"
    conf.write_text(on)
    subprocess.run([*ctl, "update"], check=True, capture_output=True)
    # `update` restarts the changed programs: the test's "before" is taken once they run again
    programs = ("gunicorn", "celery")
    wait_for(
        lambda: all(sandbox_state.services().get(p) == "RUNNING" for p in programs),
        "gunicorn and celery RUNNING after supervisorctl update",
        60,
    )
    try:
        yield
    finally:
        conf.write_text(text)
        subprocess.run([*ctl, "update"], check=True, capture_output=True)


def test_with_autorestart_on_section_9_serves_from_processes_younger_than_its_restart(
    autorestart: None, tmp_path: Path
) -> None:
    """Paso 5.1 starts the target and it serves; Paso 5.2 fails (the broker is down): §9 stops
    what Paso 5.1 started before it puts anything back, and what serves afterwards is the
    pre-rollback release, from processes younger than §9's restart."""
    options = make_fault("broker-down")
    before = state()
    done = run_feature(tmp_path, *INCIDENT, *options, extra_env=write_variant(tmp_path, fast))
    assert done.outcome == RESTORED, dump(done)
    assert done.pasos()["5.1"] == "passed" and done.pasos()["5.2"] == "failed", dump(done)
    actions = [e["action"] for e in done.journal() if e["event"] == "recovery_action"]
    assert actions[0] == "stop the app services before putting anything back", actions
    restarted = done.restarted_at()
    assert restarted is not None and stale_processes(restarted) == []
    differs = state().differences(before)  # the served release included
    assert not differs, {part: values for part, values in differs.items() if part != "database"}
