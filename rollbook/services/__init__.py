"""Service managers: one module each, one interface (stop, start, reload, is_running, pids)."""

from __future__ import annotations

from rollbook.core.config import ServicesConfig
from rollbook.core.host import Host
from rollbook.services.base import ServiceManager
from rollbook.services.supervisor import Supervisor
from rollbook.services.systemd import Systemd


def manager_for(host: Host, services: ServicesConfig) -> ServiceManager:
    """The environment's service manager on `host` (`services.manager`)."""
    if services.manager == "supervisor":
        return Supervisor(host, services.supervisorctl, services.supervisor_conf)
    return Systemd(host)


__all__ = ["ServiceManager", "manager_for"]
