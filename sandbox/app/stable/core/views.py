"""HTTP endpoints: health, status and auth health (JSON)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .health import describe, run_checks


def read_version() -> str:
    """Return the release version from the VERSION file at the app root, or "unknown"."""
    try:
        version = (settings.BASE_DIR / "VERSION").read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"
    return version or "unknown"


class PublicAPIView(APIView):
    """An endpoint for probes: no authentication, no permission, JSON only."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class HealthView(PublicAPIView):
    def get(self, request: Request) -> Response:
        report = run_checks()
        body = {
            "status": "ok" if report.ok else "error",
            "version": read_version(),
            "checks": report.checks,
        }
        if not report.ok:
            body["failed"] = report.failed
        return Response(body, status=200 if report.ok else 500)


class StatusView(PublicAPIView):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok", "version": read_version()})


class AuthHealthView(PublicAPIView):
    def get(self, request: Request) -> Response:
        try:
            get_user_model().objects.exists()
        except DatabaseError as exc:
            return Response(
                {"status": "error", "failed": ["auth"], "checks": {"auth": describe(exc)}},
                status=500,
            )
        return Response({"status": "ok", "checks": {"auth": "ok"}})


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500: a JSON body instead of Django's HTML page."""
    return JsonResponse({"status": "error", "error": "internal server error"}, status=500)
