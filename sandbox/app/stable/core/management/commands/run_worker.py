"""`manage.py run_worker`: the app's background worker when it is not celery's — a long-running
management command taking jobs from a Redis list, as RQ-style apps run theirs. It says when it is
ready, and answers each job on the job's own reply list (`manage.py send_job`)."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand

from core.models import Order


class Command(BaseCommand):
    help = "Run the background worker until SIGTERM or SIGINT."

    def handle(self, *args: Any, **options: Any) -> None:
        stopping: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: stopping.append(number))
        queue = redis.Redis.from_url(settings.JOBS_REDIS_URL)
        pending = Order.objects.count()  # the database answers before the worker says ready
        queue.ping()  # and the queue
        self.stderr.write(f"run_worker ready: pid {os.getpid()}, {pending} orders")
        while not stopping:
            taken = queue.blpop([settings.JOBS_QUEUE], timeout=1)
            if taken is not None:
                job = json.loads(taken[1])
                done = {"id": job["id"], "pid": os.getpid(), "orders": Order.objects.count()}
                queue.rpush(job["reply"], json.dumps(done))
                queue.expire(job["reply"], 60)
        self.stderr.write(f"run_worker stopped by signal {stopping[0]}")
