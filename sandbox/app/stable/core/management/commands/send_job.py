"""`manage.py send_job`: a real job through `run_worker`'s queue and back — exit 0 and the
worker's answer once a worker ran it, exit 1 when none did within `--timeout` seconds."""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Send a job to the background worker and wait for its answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        queue = redis.Redis.from_url(settings.JOBS_REDIS_URL)
        job = {"id": uuid.uuid4().hex, "reply": f"core:reply:{uuid.uuid4().hex}"}
        queue.rpush(settings.JOBS_QUEUE, json.dumps(job))
        answered = queue.blpop([job["reply"]], timeout=options["timeout"])
        if answered is None:
            queue.lrem(settings.JOBS_QUEUE, 1, json.dumps(job))  # no worker will find it later
            waited = options["timeout"]
            raise CommandError(f"job {job['id']}: no worker answered within {waited} s")
        done = json.loads(answered[1])
        self.stdout.write(f"job {done['id']} done by worker {done['pid']}: {done['orders']} orders")
