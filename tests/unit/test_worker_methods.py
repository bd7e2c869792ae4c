"""Paso 2.1 chooses how each worker will be checked, before any change, and never blocks the
rollback on the deployed release (which may be what is broken)."""

from pathlib import Path

import pytest

from rollbook.actions import workers
from rollbook.core.config import Environment, ReadyCheck
from tests.unit.local_run import local_run


def test_an_unusable_method_is_said_and_does_not_stop_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    run = local_run(tmp_path, monkeypatch)
    run.incident._progress = said.append
    services = run.site.env.services.model_copy(update={"workers": ["worker"]})
    run.site.env = run.site.env.model_copy(update={"services": services})
    # no venv here: celery cannot load
    [(spec, chosen)] = workers.plan_methods(run.incident, run.site, run.records).items()
    assert spec == "local://"
    assert chosen["worker"].startswith("unusable now: local: celery app 'config' (key celery.app)")
    assert any(s.startswith("WARNING: local: celery app 'config'") for s in said), said
    assert any(s.startswith("workers on local://: worker by unusable now") for s in said), said
    assert run.incident.journal.facts()["worker_methods"]["hosts"] == {"local://": chosen}
    # without celery and without a readiness check: the process
    no_celery = run.site.env.model_copy(update={"celery": None})
    run.site.env = no_celery
    chosen_now = workers.plan_methods(run.incident, run.site, run.records)
    assert chosen_now == {"local://": {"worker": "process"}}


def test_a_failed_round_trip_says_what_the_client_said() -> None:
    no_backend = (
        "Traceback (most recent call last):\n  ...\nNotImplementedError: No result backend is "
        "configured.\nPlease see the documentation for more information."
    )
    said = workers.roundtrip_failure(no_backend, "", "'t'", 1)
    assert said.startswith(
        "cannot be awaited: the app's celery has no result backend (NotImplementedError: No "
    )
    timed_out = "celery.exceptions.TimeoutError: The operation timed out."
    assert workers.roundtrip_failure(timed_out, "", "'t'", 1) == (
        "did not come back from a worker within 30 s"
    )
    assert workers.roundtrip_failure("", "'other'", "'t'", 0) == "came back with 'other', not 't'"
    refused = "kombu.exceptions.OperationalError: Error 111 connecting to 127.0.0.1:6379."
    assert workers.roundtrip_failure(refused, "", "'t'", 1) == (
        f"failed before a worker answered: {refused}"
    )


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        ("/v/bin/python /v/bin/celery -A config worker --concurrency 1 --loglevel INFO", "INFO"),
        ("/v/bin/celery -A config worker -l warning", "warning"),
        ("/v/bin/celery -A config worker --loglevel=debug", "debug"),
        ("/v/bin/python -m celery -A config worker -lERROR", "ERROR"),
        ("/v/bin/celery -A config worker --concurrency 1", "WARNING"),  # celery's default
        ("/v/bin/celery -A config beat --loglevel INFO", None),  # not a worker
        ("/v/bin/python manage.py run_worker", None),  # not celery's
    ],
)
def test_the_log_level_a_celery_worker_runs_at(argv: str, level: str | None) -> None:
    assert workers.celery_log_level(argv.split()) == level


def test_the_workers_no_job_can_be_sent_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = local_run(tmp_path, monkeypatch).site.env
    plain = env.model_copy(update={"celery": None})

    def with_workers(ready: dict[str, ReadyCheck]) -> Environment:
        services = env.services.model_copy(update={"workers": ["rq", "beat"], "ready": ready})
        return plain.model_copy(update={"services": services})

    assert workers.without_roundtrip(with_workers({})) == ["rq", "beat"]
    sends = {"rq": ReadyCheck(log="ready", roundtrip=["python", "manage.py", "send_job"])}
    assert workers.without_roundtrip(with_workers(sends)) == ["beat"]
    celery = with_workers({}).model_copy(update={"celery": env.celery})
    assert workers.without_roundtrip(celery) == []  # celery's task goes through them
