"""`rollbook sandbox up | down | reset`: provision once, start what is not running, go back to
the start state, stop everything through its own controls.

The START STATE: the defective tag deployed and running (health 500), the stable tag below it,
the nightly backup of the stable state (now-2h) and a too-old one (now-30h), five customers and
ten orders written after the deploy (what a rollback loses), no maintenance page.
"""

from __future__ import annotations

import json
import shutil
import stat

from rollbook.core.errors import UserError
from rollbook.sandbox import (
    appvenv,
    backups,
    faults,
    filer_site,
    fleet,
    history,
    nginx,
    profile_site,
    seeded_ledger,
    supervisor,
    systemd_host,
    wagtail_site,
)
from rollbook.sandbox.application import manage
from rollbook.sandbox.credentials import database_password, write_app_env
from rollbook.sandbox.dates import Timeline
from rollbook.sandbox.layout import PROFILES, Layout, load_layout
from rollbook.sandbox.mirror import written
from rollbook.sandbox.postgres import (
    Cluster,
    existing_cluster,
    provide_cluster,
    remove_cluster,
    server_bin,
)
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.shell import IS_ROOT, require_binary, say, wait_for
from rollbook.sandbox.signing_key import ensure_signing_key
from rollbook.sandbox.wheelhouse import ensure_wheelhouse

PROVISIONED_MARKER = "provisioned"
ROWS_AFTER_DEPLOY = 5  # customers the seed command adds at the defective code (2 orders each)
SITES = {"wagtail": wagtail_site.PROFILE, "filer": filer_site.PROFILE}  # layout.PROFILES' apps


def _check_prerequisites(layout: Layout) -> None:
    """Fail before starting anything: missing programs or sources, ports held by others."""
    server_bin()
    for program, install in (
        ("git", "apt-get install git"),
        ("redis-server", "apt-get install redis-server"),
        ("nginx", "apt-get install nginx-light"),
        (layout.supervisorctl, supervisor.SUPERVISOR_INSTALL),
    ):
        require_binary(program, install)
    if IS_ROOT:
        require_binary("runuser", "apt-get install util-linux")
    history.check_sources()
    supervisor.check_ports(layout)


def _running_cluster(layout: Layout) -> Cluster:
    cluster = provide_cluster(layout)
    if not cluster.is_initialised():
        cluster.init()
    if not cluster.is_running():
        cluster.start()
    cluster.ensure_role_and_database(database_password(layout))
    return cluster


def _is_provisioned(layout: Layout, cluster: Cluster) -> bool:
    return (
        (layout.state / PROVISIONED_MARKER).is_file()
        and (layout.state / seeded_ledger.STABLE_RECORD).is_file()
        and backups.nightly_dump(layout).is_file()
        and cluster.has_template()
    )


def _provision(layout: Layout, cluster: Cluster) -> None:
    """Build what the start state is restored from: the data at both releases, the venv."""
    say("provisioning the sandbox (the first time takes a few minutes) ...")
    tags = history.publish_history(layout, Timeline.starting_now())
    requirements = layout.env.app.requirements
    ensure_wheelhouse(layout, [history.show(layout, tag, requirements) for tag in tags.tags])
    say(f"deploying the stable release {tags.stable} and seeding its data ...")
    # re-provisioning: nothing connected
    supervisor.stop_running(layout, supervisor.app_programs(layout))
    cluster.empty_database()
    history.deploy(layout, tags.stable)
    write_app_env(layout)
    appvenv.ensure_venv(layout)
    appvenv.install_requirements(layout, seeded_ledger.HELD_BACK)
    manage(layout, "migrate", "--noinput")
    manage(layout, "seed", "--rows", str(layout.seed_rows))
    seeded_ledger.save_stable_record(layout)
    backups.dump_stable_state(layout)
    say(f"deploying the defective release {tags.defective} and writing data after it ...")
    history.deploy(layout, tags.defective)
    appvenv.install_requirements(layout)
    manage(layout, "migrate", "--noinput")
    manage(layout, "seed", "--rows", str(layout.seed_rows + ROWS_AFTER_DEPLOY))
    appvenv.save_snapshot(layout)
    cluster.save_template()
    (layout.state / PROVISIONED_MARKER).write_text("", encoding="utf-8")


def _start_services(layout: Layout) -> None:
    """supervisord and its programs running; the app's only on the single host (a fleet's app
    hosts run it: `fleet.up` would stop it again)."""
    nginx.write_maintenance_template(layout)
    nginx.write_config(layout)
    supervisor.write_config(layout)
    fleet_runs_app = bool(fleet.saved_size(layout))
    supervisor.start(layout, leave=layout.env.services.app if fleet_runs_app else ())
    if fleet_runs_app:
        return
    url = layout.env.health.url
    wait_for(
        lambda: http_status(url) is not None,
        f"gunicorn answering {url}",
        60,
        f": see {layout.gunicorn_log}",
    )


def _apply_start_state(layout: Layout, cluster: Cluster) -> None:
    timeline = Timeline.starting_now()
    faults.clear_faults(layout)
    supervisor.stop_running(layout, supervisor.app_programs(layout))
    appvenv.put_back_aside(layout.venv)
    layout.maintenance_page.unlink(missing_ok=True)
    backups.lay_out_backups(layout, timeline)
    tags = history.publish_history(layout, timeline)
    say(f"deploying {tags.defective} (stable: {tags.stable}) ...")
    history.replay_deploys(layout, tags.stable, tags.defective, timeline)
    seeded_ledger.write_ledger(layout, tags, timeline)
    write_app_env(layout)
    say(f"restoring {layout.env.database.name} to the start state ...")
    cluster.restore_from_template()
    appvenv.restore_venv(layout)
    _collect_static(layout)
    _start_services(layout)


STATIC_LISTING = "static-listing.json"  # in state/: STATIC_ROOT as the last reset left it


def _collect_static(layout: Layout) -> None:
    """collectstatic --clear, unless STATIC_ROOT is file for file (size and mtime to the
    nanosecond) what the last reset's left: the start state's sources (the defective release,
    the venv restored) give the same files, and a rollback's collectstatic writes new ones."""
    saved = layout.state / STATIC_LISTING
    if saved.is_file() and saved.read_text(encoding="utf-8") == _static_listing(layout):
        return
    manage(layout, "collectstatic", "--noinput", "--clear")
    saved.write_text(_static_listing(layout), encoding="utf-8")


def _static_listing(layout: Layout) -> str:
    root = layout.static_root
    found = sorted(
        f"{path.relative_to(root)} {' '.join(map(str, written(info)))}"
        for path in root.rglob("*")
        if not stat.S_ISDIR((info := path.lstat()).st_mode)
    )
    return json.dumps(found)


def up(app_hosts: int | None = None, systemd: bool = False, profile: str | None = None) -> None:
    """Provision the sandbox the first time; afterwards only start what is not running.

    `app_hosts` N > 1: the fleet of N app hosts over SSH (environments/fleet.yaml) instead of
    the single host; 1 goes back to the single host; None keeps what the last `up` chose.
    `systemd`: the app's services under a real systemd (environments/sandbox-systemd.yaml).
    `profile`: also a conformance profile's app (environments/sandbox-PROFILE.yaml), in its
    start state.
    """
    if profile is not None and profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    layout = load_layout()
    systemd_host.down(layout)  # its gunicorn holds the sandbox's port
    _check_prerequisites(layout)
    ensure_signing_key(layout)
    cluster = _running_cluster(layout)
    ports, size = layout.ports, _fleet_size(layout, app_hosts)
    if not size and fleet.saved_size(layout):
        fleet.up(layout, 0)  # back to the single host, which then starts its app
    if _is_provisioned(layout, cluster):
        _start_services(layout)
    else:
        _provision(layout, cluster)
        _apply_start_state(layout, cluster)
    if size:
        fleet.up(layout, size)
    else:
        say(f"up: nginx on 127.0.0.1:{ports.nginx}, gunicorn on 127.0.0.1:{ports.gunicorn}")
    if systemd:
        if size:
            raise UserError("--systemd is a single app host: leave out --app-hosts N (or give 1)")
        systemd_host.up(layout)
        say("up: the app's services run under systemd — roll back with --env=sandbox-systemd")
    if profile is not None:
        profile_site.up(layout, cluster, SITES[profile])


def _fleet_size(layout: Layout, app_hosts: int | None) -> int:
    """App hosts of the fleet to keep: 0 is the single host (the default sandbox)."""
    count = fleet.saved_size(layout) if app_hosts is None else app_hosts
    return count if count > 1 else 0


def reset() -> None:
    """Back to the start state: code, data, venv, backups, maintenance page, programs."""
    layout = load_layout()
    systemd_host.down(layout)  # its gunicorn holds the sandbox's port
    _check_prerequisites(layout)
    ensure_signing_key(layout)
    cluster = _running_cluster(layout)
    if not _is_provisioned(layout, cluster):
        _provision(layout, cluster)
    _apply_start_state(layout, cluster)
    if fleet.saved_size(layout):
        fleet.up(layout, fleet.saved_size(layout))
    say("reset: the sandbox is back to its start state")


def down(purge: bool = False) -> None:
    """Stop everything through its own controls; `purge` also deletes every file it made."""
    layout = load_layout()
    systemd_host.down(layout)
    fleet.down(layout)
    supervisor.shutdown(layout)
    cluster = existing_cluster(layout)
    if cluster is not None and cluster.is_running():
        cluster.stop()
    if purge:
        say(f"removing {layout.root} ...")
        remove_cluster(layout)
        shutil.rmtree(layout.root, ignore_errors=True)
    say("down")
