"""The interface every service manager offers to the Pasos."""

from __future__ import annotations

from typing import Protocol


class ServiceManager(Protocol):
    def stop(self, names: list[str]) -> None: ...

    def start(self, names: list[str]) -> None: ...

    def restart(self, names: list[str]) -> None: ...  # stopped first if running, then started

    def reload(self, name: str) -> None: ...

    def is_running(self, name: str) -> bool: ...

    def running(self, names: list[str]) -> list[str]: ...  # those of `names` running: one question

    def gave_up(self, name: str) -> bool: ...  # it failed to start and will not be retried

    def pids(self, name: str) -> list[int]: ...

    def uptime(self, name: str) -> float | None: ...

    def last_lines(self, name: str, count: int = 10) -> list[str]: ...  # of its own log
