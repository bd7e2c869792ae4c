"""The sandbox: a small real copy of the procedure's staging server on 127.0.0.1, under .sandbox/.

PostgreSQL (its own cluster), supervisord running redis, nginx, gunicorn and a celery worker, the
demo Django app deployed from its own git repository at a defective tag with the stable tag below
it, and the nightly backup of the stable state. environments/sandbox.yaml describes it.
"""

from rollbook.sandbox.status import status
from rollbook.sandbox.up_down import down, reset, up

__all__ = ["down", "reset", "status", "up"]
