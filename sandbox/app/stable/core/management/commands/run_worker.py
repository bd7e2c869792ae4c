"""`manage.py run_worker`: the app's background worker when it is not celery's — a long-running
management command, as many apps run their own queue or scheduler. It says when it is ready."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand

from core.models import Order


class Command(BaseCommand):
    help = "Run the background worker until SIGTERM or SIGINT."

    def handle(self, *args: Any, **options: Any) -> None:
        stopping: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: stopping.append(number))
        pending = Order.objects.count()  # the database answers before the worker says ready
        self.stderr.write(f"run_worker ready: pid {os.getpid()}, {pending} orders")
        while not stopping:
            time.sleep(0.2)
        self.stderr.write(f"run_worker stopped by signal {stopping[0]}")
