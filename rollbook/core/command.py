"""One command as a Host asks for it and as it came back: the argument list and its wrappers
(`Command`), the one quoted /bin/sh line it becomes (`command_line`), its result
(`CommandResult`), and what a Host needs of the run's policy around it (`Policy`, which
core/executor.py implements: the journal, the dry-run's planning, the read-only refusal)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from rollbook.core.transports import Transported


@dataclass(frozen=True)
class Command:
    """What a Host is asked to run (Host.run says what each field means)."""

    argv: list[str]
    mutating: bool
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    env_files: Sequence[str] = ()
    timeout: float | None = None
    check: bool = True
    declared: bool = False
    root: str | None = None
    app: bool = False


@dataclass(frozen=True)
class CommandResult:
    host: str
    argv: list[str]
    exit_status: int
    stdout: str
    stderr: str
    duration: float
    planned: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def unreached(self) -> bool:
        """The host itself could not be reached (ssh exits 255), not the command failing."""
        return self.exit_status == 255 and not self.host.startswith("local://")


class Policy(Protocol):
    """The run's policy around every command of a Host (core/executor.py)."""

    @property
    def planning(self) -> bool: ...

    @property
    def app_secrets(self) -> dict[str, str]: ...

    def execute(self, spec: str, command: Command) -> CommandResult: ...

    def probe(self, spec: str, line: str, bound: float) -> Transported: ...

    def tell(self, text: str, progress: Mapping[str, object] | None = None) -> None: ...

    def private_file(self, spec: str, name: str, content: str, app: bool = False) -> str: ...

    def describe_failure(self, result: CommandResult) -> str: ...

    def acting_for(self, paso: str) -> AbstractContextManager[None]: ...


# Exports the KEY=VALUE lines of each file before `--` (blank lines, comments and invalid names
# skipped, an `export ` prefix and matching outer quotes dropped; values taken literally, never
# run as shell code), then runs the command after it.
ENV_FILES_LOADER = r'''while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in ""|\#*) continue;; esac
    l=${l#export }; k=${l%%=*}; v=${l#*=}
    case $k in ""|*[!A-Za-z0-9_]*|[0-9]*) continue;; esac
    [ "$k" = "$l" ] && continue
    case $v in \"*\") v=${v#\"}; v=${v%\"};; \'*\') v=${v#\'}; v=${v%\'};; esac
    export "$k=$v"
  done < "$1" || exit 126
  shift
done
shift
exec "$@"'''


def command_line(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    env_files: Sequence[str] = (),
    timeout: float | None = None,
    sudo: bool = False,
    owner: Sequence[str] = (),
) -> str:
    """The /bin/sh line for an argument list, wrappers included, every part quoted.

    `sudo -n` comes right before the command itself, so a sudoers rule names the real program
    (e.g. supervisorctl) and `timeout` still bounds it; sudo resets the environment, so root
    actions take none. Environment values here are never secrets (a secret reaches a command as
    a private file, one of `env_files`, read on the host; `env` is applied over them).
    `owner`: the words that run the whole line as another user (the app's: `runuser -u USER --`
    or `sudo -n -u USER --`), its folder, environment files and bound included."""
    parts = ["sudo", "-n", *argv] if sudo else list(argv)
    if timeout:
        parts = ["timeout", "-k", "10", str(max(1, round(timeout))), *parts]
    if env:
        parts = ["env", *(f"{k}={v}" for k, v in env.items()), *parts]
    if env_files:
        parts = ["sh", "-c", ENV_FILES_LOADER, "sh", *env_files, "--", *parts]
    line = shlex.join(parts)
    line = f"cd {shlex.quote(cwd)} && {line}" if cwd else line
    return shlex.join([*owner, "sh", "-c", line]) if owner else line
