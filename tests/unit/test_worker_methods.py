"""Paso 2.1 chooses how each worker will be checked, before any change, and never blocks the
rollback on the deployed release (which may be what is broken)."""

from pathlib import Path

import pytest

from rollbook.actions import workers
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
    [(spec, chosen)] = workers.plan_methods(run.incident, run.site).items()
    assert spec == "local://"
    assert chosen["worker"].startswith("unusable now: local: celery app 'config' (key celery.app)")
    assert any(s.startswith("WARNING: local: celery app 'config'") for s in said), said
    assert any(s.startswith("workers on local://: worker by unusable now") for s in said), said
    assert run.incident.journal.facts()["worker_methods"]["hosts"] == {"local://": chosen}
    # without celery and without a readiness check: the process
    no_celery = run.site.env.model_copy(update={"celery": None})
    run.site.env = no_celery
    assert workers.plan_methods(run.incident, run.site) == {"local://": {"worker": "process"}}
