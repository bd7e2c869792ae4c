"""`rollbook sandbox status`: one (component, state, ok) per part of the sandbox."""

from __future__ import annotations

import time

from rollbook.sandbox import history, supervisor
from rollbook.sandbox.backups import newest_backup
from rollbook.sandbox.layout import Layout, load_layout
from rollbook.sandbox.postgres import existing_cluster
from rollbook.sandbox.probe import http_status

Component = tuple[str, str, bool]


def _postgres(layout: Layout) -> Component:
    cluster = existing_cluster(layout)
    if cluster is None or not cluster.is_initialised():
        return "postgres", "not created (run `rollbook sandbox up`)", False
    if cluster.is_running():
        return "postgres", f"running on 127.0.0.1:{cluster.port} (data {cluster.data})", True
    return "postgres", "stopped", False


def _supervised(layout: Layout) -> list[Component]:
    if not supervisor.is_running(layout):
        names = ("supervisord", *(p.name for p in supervisor.programs(layout) if p.autostart))
        return [(name, "stopped", False) for name in names]
    states = supervisor.program_states(layout)
    pid = supervisor.supervisord_pid(layout)
    components: list[Component] = [("supervisord", f"running (pid {pid})", True)]
    for program in supervisor.programs(layout):
        state = states.get(program.name, "unknown to supervisord")
        ok = state.startswith("RUNNING") or not program.autostart  # not started by the sandbox
        components.append((program.name, " ".join(state.split()), ok))
    return components


def _health(layout: Layout) -> Component:
    url = layout.env.health.url
    code = http_status(url)
    if code is None:
        return "health", f"no answer from {url}", False
    return "health", f"HTTP {code} from {url}", True


def _maintenance(layout: Layout) -> Component:
    page = layout.maintenance_page
    return "maintenance", f"on ({page} exists)" if page.exists() else "off", True


def _deployed(layout: Layout) -> Component:
    if not (layout.app / ".git").is_dir():
        return "deployed", "no checkout", False
    tag = history.deployed_tag(layout)
    return "deployed", tag or "a commit without a deploy tag", tag is not None


def _backup(layout: Layout) -> Component:
    backup = newest_backup(layout)
    if backup is None:
        return "backup", f"no {layout.env.database.backup_pattern} in {layout.backups}", False
    age = time.time() - backup.stat().st_mtime
    fresh = age <= layout.env.database.max_backup_age
    note = "" if fresh else " — too old: `rollbook sandbox reset` lays out a fresh one"
    return "backup", f"{backup.name}, {age / 3600:.1f} h old{note}", fresh


def status() -> list[Component]:
    layout = load_layout()
    return [
        _postgres(layout),
        *_supervised(layout),
        _health(layout),
        _maintenance(layout),
        _deployed(layout),
        _backup(layout),
    ]
