"""Service managers: one module each, one interface (stop, start, reload, is_running, pids)."""

from __future__ import annotations

from rollbook.core.run import Run
from rollbook.services.base import ServiceManager
from rollbook.services.supervisor import Supervisor
from rollbook.services.systemd import Systemd


def manager_for(run: Run, spec: str) -> ServiceManager:
    services = run.env.services
    if services.manager == "supervisor":
        return Supervisor(run.executor, spec, services.supervisorctl, services.supervisor_conf)
    return Systemd(run.executor, spec)


__all__ = ["ServiceManager", "manager_for"]
