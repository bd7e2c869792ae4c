"""Etapa 3, Paso 3.1 — code rollback on every app host: the deployed release recorded for §9,
the target tag checked out."""

from __future__ import annotations

from rollbook.actions import static
from rollbook.actions.fleet import each_host
from rollbook.core.host import Host
from rollbook.core.operations import CodeChanged
from rollbook.core.resources import Checkout, Venv
from rollbook.core.run import Run
from rollbook.core.state import CodeBefore, Deployed


def record_deployed_code(run: Run) -> dict[str, object]:
    """Before Etapa 3 changes anything: the deployed ref, package set and static files (a
    snapshot), for §9."""
    tag = run.need(Deployed).tag
    code = each_host(run, "app", lambda host: {
        "commit": Checkout(host, run.env.app.path).head(),
        "tag": tag,
        "freeze": Venv(host, run.env.app).freeze(),
        "static": static.take_snapshot(host, run.env, run.incident_id),
    })  # fmt: skip
    return run.keep(CodeBefore(code)).value()


def checkout_tag(run: Run, tag: str) -> dict[str, str]:
    """Paso 3.1: git fetch --tags; git checkout TAG; git log -1 --oneline."""

    def checkout(host: Host) -> str:
        tree = Checkout(host, run.env.app.path)
        tree.git("fetch", "--tags", mutating=True)
        with run.operation(CodeChanged(host.spec)):  # §9 puts back CodeBefore's state
            tree.git("checkout", tag, mutating=True)
        return tree.git("log", "-1", "--oneline")

    heads = each_host(run, "app", checkout)
    run.record("code_checked_out", tag=tag, heads=heads)
    return heads


def hosts_not_at(run: Run, tag: str) -> list[str]:
    """The app hosts whose checked-out commit is not the tag's (Paso 3.1's check)."""
    trees = [Checkout(run.executor.host(spec), run.env.app.path) for spec in run.hosts("app")]
    return [tree.host.spec for tree in trees if tree.head() != tree.tag_commit(tag)]
