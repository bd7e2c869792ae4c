"""Celery tasks of the core app."""

from celery import shared_task


@shared_task
def ping() -> str:
    return "pong"


@shared_task
def add(x: int, y: int) -> int:
    return x + y
