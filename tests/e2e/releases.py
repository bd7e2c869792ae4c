"""Releases and deploys made by hand in the sandbox, for the e2e tests that need a new deploy."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from rollbook.sandbox.application import manage
from rollbook.sandbox.faults import publish_release
from rollbook.sandbox.layout import load_layout
from tests.e2e.sandbox_state import env, git


def deploy_tags() -> list[str]:
    """The sandbox's deploy tags, newest first."""
    pattern = f"refs/tags/{env().app.tags}"
    return git("for-each-ref", "--sort=-creatordate", "--format=%(refname:short)", pattern).split()


def health_breaks_without_migration(work: Path) -> None:
    """A code-only defect: the health check's database probe always reports a failure."""
    health = work / "core" / "health.py"
    health.write_text(
        health.read_text()
        + '\n\ndef check_database() -> str | None:  # noqa: F811\n    return "injected fault"\n'
    )


def publish_code_only_defect() -> str:
    """A release newer than every other: the stable one with a bug and no migration."""
    return publish_release(load_layout(), health_breaks_without_migration, timedelta(minutes=1))


def deploy(tag: str) -> None:
    """Deploy a release by hand, like a team's normal deploy: checkout and restart gunicorn."""
    git("checkout", "-q", tag)
    services = env().services
    subprocess.run(
        [services.supervisorctl, "-c", str(services.supervisor_conf), "restart", "gunicorn"],
        check=True,
        capture_output=True,
    )


IRREVERSIBLE = """from django.db import migrations


def promote(apps, schema_editor):
    Customer = apps.get_model("core", "Customer")
    Customer.objects.filter(id__lte=20).update(tier="gold")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_customer_full_name_tier")]
    operations = [migrations.RunPython(promote)]  # no reverse: Django cannot undo it
"""


def add_irreversible_migration(work: Path) -> None:
    (work / "core" / "migrations" / "0003_promote_gold.py").write_text(IRREVERSIBLE)


def deploy_irreversible_release() -> str:
    """On top of the deployed (defective) release, a data migration Django cannot undo, deployed
    and applied: only a restore goes back."""
    layout = load_layout()
    tag = publish_release(
        layout, add_irreversible_migration, timedelta(minutes=1), base=deploy_tags()[0]
    )
    deploy(tag)
    manage(layout, "migrate", "--noinput")
    return tag
