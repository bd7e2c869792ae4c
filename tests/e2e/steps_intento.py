"""A step that tries to change the system, for the read-only refusal test (loaded with -p)."""

from pytest_bdd import when

from rollbook.actions import web
from rollbook.core.run import Run


@when("se intenta activar la página de mantenimiento")
def try_to_change(run: Run) -> None:
    web.maintenance_on(run.site.first_host("app"), run.site.env)
