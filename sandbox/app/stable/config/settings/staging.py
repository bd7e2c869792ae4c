"""Staging settings: what gunicorn, the Celery worker and manage.py use on the staging stack."""

from .base import *  # noqa: F403

DEBUG = False

SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
