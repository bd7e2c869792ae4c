"""A runner killed alone (SIGKILL, the OOM killer) leaves alive the command it was running: a
pg_dump still writing its file, a psql restore, a pip install still changing the venv. Before §9
acts on a dead run's journal, each change that run started and never finished is looked for on
its host (by its exact argument list, in /proc) and stopped, so the recovery never races it."""

from __future__ import annotations

import shlex
from typing import Any

from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.run import Run
from rollbook.core.waiting import wait_until

GRACE = 20.0  # SIGTERM, then what `timeout -k 10` needs to SIGKILL a command that ignores it
# every process of the host: `PID RS ARG US ARG … GS`, its exact argument list from /proc
_PROCESSES = (
    'for d in /proc/[0-9]*; do [ -r "$d/cmdline" ] || continue; '
    "printf '%s\\036' \"${d#/proc/}\"; tr '\\000' '\\037' < \"$d/cmdline\" 2>/dev/null; "
    "printf '\\035'; done"
)


def unfinished(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The intents of `events` no `command` followed: what the run was changing when it died.
    Intents a resumed run carried over from the incident it resumed are not its own."""
    open_intents: list[dict[str, Any]] = []
    for event in events:
        if event["event"] == "intent" and not event.get("resumed_from"):
            open_intents.append(event)
        elif event["event"] == "command" and event.get("mutating"):
            same = (event["host"], event["argv"])
            match = next((i for i in open_intents if (i["host"], i["argv"]) == same), None)
            if match is not None:
                open_intents.remove(match)
    return open_intents


def runs(cmdline: list[str], argv: list[str]) -> bool:
    """`cmdline` is `argv` itself, or its `timeout -k 10 N [sudo -n]` wrapper (connection)."""
    if cmdline[:3] == ["timeout", "-k", "10"]:
        cmdline = cmdline[4:]
    if cmdline[:2] == ["sudo", "-n"]:
        cmdline = cmdline[2:]
    return cmdline == argv


def _running(host: Host, argvs: list[list[str]]) -> list[tuple[str, list[str]]]:
    listed = host.run(["sh", "-c", _PROCESSES], mutating=False, check=False).stdout
    found = []
    for record in listed.split("\035"):
        pid, _, args = record.partition("\036")
        cmdline = args.rstrip("\037").split("\037")
        if pid.strip().isdigit() and any(runs(cmdline, argv) for argv in argvs):
            found.append((pid.strip(), cmdline))
    return found


def stop(run: Run, events: list[dict[str, Any]]) -> list[str]:
    """Stop every unfinished change of a dead run still running on its host; what was found,
    one line each, said and journaled. StepFailed when one survives SIGTERM and SIGKILL."""
    said = []
    left = unfinished(events)
    for spec in dict.fromkeys(e["host"] for e in left):
        said += _stop_on(run.site.host(spec), [e["argv"] for e in left if e["host"] == spec])
    for line in said:
        run.incident.say(f"§9 recovery: {line}")
        run.incident.journal.write("dead_command", note=line)
    return said


def _stop_on(host: Host, argvs: list[list[str]]) -> list[str]:
    found = _running(host, argvs)
    if not found:
        return [f"{host.name}: `{shlex.join(argv)}` no longer runs" for argv in argvs]
    for signal, grace in (("TERM", GRACE), ("KILL", 5.0)):
        host.run(["kill", f"-{signal}", *(pid for pid, _ in found)], mutating=True, check=False)
        if wait_until(lambda: not _running(host, argvs), grace):
            return [
                f"{host.name}: `{shlex.join(cmdline)}` (pid {pid}) was still running: "
                f"stopped (SIG{signal})"
                for pid, cmdline in found
            ]
    pids = " ".join(pid for pid, _ in _running(host, argvs))
    raise StepFailed(
        f"{host.name}: the dead run's commands (pids {pids}) survive SIGKILL: stop "
        "them by hand, then run the recovery again"
    )
