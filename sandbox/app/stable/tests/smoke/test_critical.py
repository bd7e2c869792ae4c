"""Smoke tests of a deployed release, over HTTP, plus a Celery round-trip.

Run from the app root with the app's own venv:
    venv/bin/python -m pytest tests/smoke/test_critical.py
or from anywhere with any pytest (only the Celery test needs the app's code; it is skipped).
SMOKE_BASE_URL (default http://127.0.0.1:8000) is where the app answers. The Celery test reads
its configuration like the app does: the process environment, then the app's `.env`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest

BASE_URL = os.environ.get("SMOKE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
TIMEOUT = 10


def fetch(path: str) -> tuple[int, str]:
    """GET BASE_URL + path and return (status, body), whatever the status."""
    request = urllib.request.Request(BASE_URL + path, headers={"User-Agent": "smoke-tests"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def fetch_json(path: str) -> tuple[int, dict[str, Any]]:
    status, body = fetch(path)
    try:
        data = json.loads(body)
    except ValueError:
        pytest.fail(f"{path} answered {status} with a body that is not JSON: {body[:200]!r}")
    return status, data


def test_health() -> None:
    status, data = fetch_json("/api/health/")
    assert status == 200, f"/api/health/ answered {status}: {data}"
    assert data["status"] == "ok"


def test_status_reports_version() -> None:
    status, data = fetch_json("/api/v1/status/")
    assert status == 200, f"/api/v1/status/ answered {status}: {data}"
    assert data["status"] == "ok"
    assert data["version"] and data["version"] != "unknown"


def test_auth_health() -> None:
    status, data = fetch_json("/api/v1/auth/health/")
    assert status == 200, f"/api/v1/auth/health/ answered {status}: {data}"
    assert data["status"] == "ok"


def test_login_page() -> None:
    status, body = fetch("/accounts/login/")
    assert status == 200, f"/accounts/login/ answered {status}"
    assert "<form" in body and 'name="username"' in body and 'name="password"' in body


def test_admin_login_page() -> None:
    status, body = fetch("/admin/login/")
    assert status == 200, f"/admin/login/ answered {status}"
    assert "<form" in body


def test_celery_round_trip() -> None:
    """Needs the app's code: skipped where only HTTP can be tested (a runner outside the app)."""
    django = pytest.importorskip("django")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.staging")

    django.setup()
    from core.tasks import add, ping

    assert add.delay(2, 3).get(timeout=TIMEOUT) == 5
    assert ping.delay().get(timeout=TIMEOUT) == "pong"
