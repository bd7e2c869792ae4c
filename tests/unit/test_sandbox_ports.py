"""The sandbox's servers listen outside the kernel's ephemeral port range: a port in it can be
taken at any moment by a client connection's local end (a celery worker's Redis socket), and a
server restarted by a rollback would then fail to bind."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

from rollbook.sandbox.layout import PROFILES, load_layout, load_profile_layout

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_every_sandbox_port_is_outside_the_ephemeral_range() -> None:
    low, high = (int(n) for n in EPHEMERAL.read_text().split())
    layout = load_layout()
    settings = layout.env.sandbox
    assert settings is not None
    ports = {
        *astuple(layout.ports),
        *(load_profile_layout(name).ports.gunicorn for name in PROFILES),
        *range(settings.fleet_ssh_port, settings.fleet_ssh_port + 3),
        settings.systemd_ssh_port,
    } - {0, None}
    inside = sorted(port for port in ports if low <= port <= high)
    assert not inside, f"sandbox ports {inside} are inside the ephemeral range {low}-{high}"
