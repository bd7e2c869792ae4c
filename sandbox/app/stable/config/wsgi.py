"""WSGI entry point (`gunicorn config.wsgi:application`)."""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.staging")

application: WSGIHandler = get_wsgi_application()
