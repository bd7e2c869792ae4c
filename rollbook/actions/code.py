"""Etapa 3, Paso 3.1 — code rollback on every app host: the deployed release recorded for §9,
the target tag checked out."""

from __future__ import annotations

from rollbook.actions import static
from rollbook.actions.fleet import each_host
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.operations import CodeChanged
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv
from rollbook.core.site import Site
from rollbook.core.state import CodeBefore, Deployed


def record_deployed_code(incident: Incident, site: Site, records: Records) -> dict[str, object]:
    """Before Etapa 3 changes anything: the deployed ref, package set and static files (a
    snapshot), for §9."""
    tag = records.need(Deployed).tag
    code = each_host(
        incident,
        site,
        "app",
        lambda host: {
            "commit": Checkout(host, site.env.app.path).head(),
            "tag": tag,
            "freeze": Venv(host, site.env.app).freeze(),
            "static": static.take_snapshot(host, site.env, incident.id),
        },
    )
    return records.keep(CodeBefore(code)).value()


def checkout_tag(incident: Incident, site: Site, records: Records, tag: str) -> dict[str, str]:
    """Paso 3.1: git fetch --tags; git checkout TAG; git log -1 --oneline."""

    def checkout(host: Host) -> str:
        tree = Checkout(host, site.env.app.path)
        tree.git("fetch", "--tags", mutating=True)
        with records.operation(CodeChanged(host.spec)):  # §9 puts back CodeBefore's state
            tree.git("checkout", tag, mutating=True)
        return tree.git("log", "-1", "--oneline")

    heads = each_host(incident, site, "app", checkout)
    incident.note("code_checked_out", tag=tag, heads=heads)
    return heads


def hosts_not_at(site: Site, tag: str) -> list[str]:
    """The app hosts whose checked-out commit is not the tag's (Paso 3.1's check)."""
    trees = [Checkout(site.host(spec), site.env.app.path) for spec in site.hosts("app")]
    return [tree.host.spec for tree in trees if tree.head() != tree.tag_commit(tag)]
