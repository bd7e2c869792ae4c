"""Checks behind /api/health/: the database answers and its schema is the one this code expects."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from .models import Customer, Order

logger = logging.getLogger(__name__)


@dataclass
class HealthReport:
    checks: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def passed(self, name: str) -> None:
        self.checks[name] = "ok"

    def fail(self, name: str, detail: str) -> None:
        self.checks[name] = detail
        self.failed.append(name)


def describe(exc: BaseException) -> str:
    """First line of an exception's message (database errors span several lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_database() -> str | None:
    """Return None when the database answers a query, else a description of the error."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"database unreachable: {describe(exc)}"
    return None


def check_migrations() -> str | None:
    """Return None when the applied migrations are exactly the ones this code ships."""
    try:
        executor = MigrationExecutor(connection)
    except DatabaseError as exc:
        return f"cannot read migration history: {describe(exc)}"
    loader = executor.loader
    disk = set(loader.disk_migrations)
    applied = set(loader.applied_migrations)
    unknown = sorted(
        f"{app}.{name}"
        for app, name in applied
        if app in loader.migrated_apps and (app, name) not in disk
    )
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    unapplied = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    problems: list[str] = []
    if unknown:
        problems.append("applied migrations unknown to this code: " + ", ".join(unknown))
    if unapplied:
        problems.append("unapplied migrations: " + ", ".join(unapplied))
    return "; ".join(problems) or None


def check_orm() -> str | None:
    """Return None when real ORM queries over Customer and Order work."""
    try:
        list(Customer.objects.order_by("pk")[:1])
        list(Order.objects.select_related("customer").order_by("pk")[:1])
        Order.objects.filter(status=Order.Status.PAID).count()
    except DatabaseError as exc:
        return f"ORM query failed: {describe(exc)}"
    return None


def run_checks() -> HealthReport:
    report = HealthReport()
    database_error = check_database()
    if database_error:
        report.fail("database", database_error)
        report.checks["migrations"] = "skipped"
        report.checks["orm"] = "skipped"
    else:
        report.passed("database")
        for name, check in (("migrations", check_migrations), ("orm", check_orm)):
            error = check()
            if error:
                report.fail(name, error)
            else:
                report.passed(name)
    if not report.ok:
        logger.error("health check failed: %s", "; ".join(report.failed))
    return report
