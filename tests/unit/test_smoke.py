"""Paso 6.2's smoke tests where the app's venv has no pytest: rollbook's own pytest runs them on
the operator's side, from the app host's copy; a failure says why."""

from pathlib import Path

import pytest

from rollbook.checks import smoke
from rollbook.core.errors import StepFailed
from tests.unit.local_run import local_run

TESTS = """import os

def test_the_environment_reaches_the_tests():
    assert os.environ["SMOKE_BASE_URL"] == "http://127.0.0.1:9"

def test_the_release():
    assert open(os.environ["RELEASE_FILE"]).read() == "stable\\n", "not the stable release"
"""


def test_a_venv_without_pytest_runs_them_on_the_operators_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = tmp_path / "release.txt"
    release.write_text("stable\n")
    variables = f'{{SMOKE_BASE_URL: "http://127.0.0.1:9", RELEASE_FILE: "{release}"}}'
    keys = f", smoke_tests: tests/smoke/test_app.py, smoke_env: {variables}"
    run = local_run(tmp_path, monkeypatch, health_keys=keys)
    (tmp_path / "app" / "tests" / "smoke").mkdir(parents=True)
    (tmp_path / "app" / "tests" / "smoke" / "test_app.py").write_text(TESTS)
    host = run.site.first_host("app")
    assert (
        smoke.runner(host, run.site.env) == "operator"
    )  # the app's venv has no pytest (none here)
    said = smoke.run_smoke(run, host)
    assert said["runner"] == "operator" and said["exit"] == 0, said
    assert "2 passed" in str(said["summary"])
    release.write_text("defective\n")
    with pytest.raises(
        StepFailed,
        match=r"\(operator\) failed: 1 failed, 1 passed.* — FAILED "
        r".*test_the_release - AssertionError: not the stable release",
    ):
        smoke.run_smoke(run, host)
