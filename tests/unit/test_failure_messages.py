"""What a failed Paso says of the cause: a service's log end, a smoke test's failure lines."""

import subprocess
from pathlib import Path

from rollbook.actions.app_services import ends_with, of_the_app, working_folders
from rollbook.actions.serving import service_tree
from rollbook.actions.workers import lines_since
from rollbook.checks.smoke import failure_reasons
from tests.unit.local_run import local_host

GUNICORN = """[2026-11-28 10:00:00 +0000] [7] [INFO] Booting worker with pid: 8
Traceback (most recent call last):
  File "/app/config/wsgi.py", line 17, in <module>
    import pkg_resources
ModuleNotFoundError: No module named 'pkg_resources'
[2026-11-28 10:00:00 +0000] [8] [INFO] Worker exiting (pid: 8)
[2026-11-28 10:00:01 +0000] [7] [ERROR] Worker (pid:8) exited with code 3
[2026-11-28 10:00:01 +0000] [7] [ERROR] Shutting down: Master
[2026-11-28 10:00:01 +0000] [7] [ERROR] Reason: Worker failed to boot.""".splitlines()


def test_a_service_log_shows_the_exception_before_the_shutdown_lines() -> None:
    said = ends_with(GUNICORN)
    assert said.startswith("Its log ends: ModuleNotFoundError: No module named 'pkg_resources' | ")
    assert said.endswith("Reason: Worker failed to boot.")
    assert said.count(" | ") == 3


def test_an_empty_log_says_what_to_do() -> None:
    assert "by hand" in ends_with([])


def test_smoke_failures_name_the_failing_tests() -> None:
    out = (
        "..F\n=== short test summary info ===\n"
        "FAILED tests/smoke/test_critical.py::test_total - AssertionError: rounding\n"
        "1 failed, 2 passed in 0.20s\n"
    )
    said = failure_reasons(out, "")
    assert said == "FAILED tests/smoke/test_critical.py::test_total - AssertionError: rounding"


def test_a_venv_without_pytest_says_so() -> None:
    said = failure_reasons("", "/srv/app/venv/bin/python: No module named pytest\n")
    assert said == "/srv/app/venv/bin/python: No module named pytest"


def test_a_log_since_a_start() -> None:
    """What a worker's log says since its start: the lines after the marked end of before."""
    before = ["a", "b", "c"]
    assert lines_since(before, ["x", "a", "b", "c", "d", "ready"]) == ["d", "ready"]
    assert lines_since(before, ["a", "b", "c"]) == []  # nothing written yet
    assert lines_since(before, ["a", "b", "c", "a", "b", "c", "e"]) == ["e"]  # the last one
    assert lines_since(before, ["rotated", "ready"]) == ["rotated", "ready"]  # mark gone
    assert lines_since([], ["ready"]) == ["ready"]  # an empty log before


def test_a_services_process_tree() -> None:
    """What the service manager ran and everything it started, by parent pid."""
    table = [
        (1, 0, "init"),
        (10, 1, "supervisord"),
        (20, 10, "manage.py run_worker"),
        (21, 20, "child"),
        (22, 21, "grandchild"),
        (30, 10, "gunicorn"),
        (40, 1, "other"),
    ]
    assert service_tree(table, {20}) == {20, 21, 22}
    assert service_tree(table, {20, 30, 99}) == {20, 21, 22, 30}  # 99 is gone


def test_a_service_name_inside_the_app_path_matches_no_process() -> None:
    path, names = "/srv/wagtail/site", ["wagtail"]
    squatter = "python -m squatter --port 8000 --checkout /srv/wagtail/site"
    assert not of_the_app(squatter, "/", path, names)
    assert of_the_app("/srv/wagtail/venv/bin/python /srv/wagtail/site/wagtail.py", "/", path, names)
    assert of_the_app("celery -A config worker --workdir /srv/app", "/", "/srv/app", ["celery"])
    assert not of_the_app("celery -A config worker", "/srv/other", "/srv/app", ["celery"])


def test_a_service_started_by_hand_in_the_app_folder_is_the_apps() -> None:
    started = "/srv/app/venv/bin/gunicorn config.wsgi -b 127.0.0.1:8000"
    assert of_the_app("gunicorn config.wsgi -b :8000", "/srv/app", "/srv/app/", ["gunicorn"])
    assert of_the_app(started, "/", "/srv/app", ["gunicorn"])
    assert of_the_app("gunicorn config.wsgi", "/srv/app/src", "/srv/app", ["gunicorn"])
    assert not of_the_app("gunicorn config.wsgi", "/srv/application", "/srv/app", ["gunicorn"])


def test_working_folders_are_read_from_proc(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        folders = working_folders(local_host(tmp_path / "journal"))
    finally:
        child.kill()
        child.wait()
    assert folders[child.pid] == str(tmp_path)
