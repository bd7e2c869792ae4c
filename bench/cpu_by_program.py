"""Where the CPU goes: a command run under the kernel's process accounting (acct(2)), its CPU
seconds summed by program name.

    .venv/bin/python bench/cpu_by_program.py [--markdown FILE] [--code CHECKOUT] [-- COMMAND ...]

Without a command: `rollbook sandbox reset`, then the sandbox rollback — with `--code`, run by
another checkout's rollbook (an older commit: a before/after comparison on the same sandbox,
alternated with runs without it). Every process that ends
while it runs is counted, with its program name as the kernel keeps it (15 characters: a Python
script run through its shebang is its script's name, `python -m x` is `python`), so run it on a
quiet machine. A process still running at the end (a service the run started) is not counted.
Needs root (acct(2)). Accounting is one switch for the whole machine: this takes it over while
the command runs and switches it off after, so do not run it where the system's own accounting
(the psacct/acct service) is on. A benchmark, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rollbook import sandbox
from rollbook.sandbox import instance

ROOT = Path(__file__).resolve().parents[1]
ROLLBACK = [
    sys.executable,
    "-m",
    "pytest",
    "features/rollback.feature",
    "--env=sandbox",
    "--reason=benchmark",
    "--severity=ALTO",
    "--approved-by=Tomás Torres",
    "-q",
    "-p",
    "no:cacheprovider",
]
RECORD = struct.Struct("<BBHIIIIIIfHHHHHHHH16s")  # struct acct_v3 (linux/acct.h)
TICKS = 100  # AHZ: comp_t counts hundredths of a second


def _expand(value: int) -> int:
    """A comp_t: 13 bits of mantissa, 3 bits of base-8 exponent."""
    return (value & 0x1FFF) << (3 * ((value >> 13) & 7))


def cpu_by_program(accounting: bytes) -> tuple[Counter[str], Counter[str]]:
    """CPU seconds and processes by program name, from an acct_v3 file."""
    seconds: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    for offset in range(0, len(accounting) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(accounting, offset)
        if fields[1] != 3:
            sys.exit("process accounting wrote another format than acct_v3: cannot read it")
        name = fields[18].split(b"\0")[0].decode(errors="replace")
        seconds[name] += (_expand(fields[10]) + _expand(fields[11])) / TICKS
        processes[name] += 1
    return seconds, processes


def switch_accounting(path: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.acct(path.encode() if path else None) != 0:
        error = os.strerror(ctypes.get_errno())
        sys.exit(f"process accounting (acct(2)) refused: {error} — run as root")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--code",
        type=Path,
        default=ROOT,
        help="the checkout whose rollbook runs the default rollback",
    )
    parser.add_argument("command", nargs="*", help="the command (default: the sandbox rollback)")
    args = parser.parse_args()
    instance.activate(instance.current())  # $ROLLBOOK_SANDBOX_INSTANCE: its files and ports
    command, cwd, environment = args.command, ROOT, None
    if not command:
        sandbox.reset()
        # the rollback acts on this checkout's sandbox, whichever checkout's code runs it
        folder = instance.environments(instance.current())
        command, cwd = ROLLBACK, args.code
        environment = {**os.environ, "ROLLBOOK_ENVIRONMENTS": str(folder)}
    with tempfile.NamedTemporaryFile(prefix="rollbook-acct-") as file:
        switch_accounting(file.name)
        started = time.monotonic()
        try:
            # the given command's output is shown as it goes; the rollback's is kept quiet
            done = subprocess.run(
                command, cwd=cwd, env=environment, capture_output=not args.command, check=False
            )
        finally:
            switch_accounting(None)
        wall = time.monotonic() - started
        seconds, processes = cpu_by_program(Path(file.name).read_bytes())
    total = sum(seconds.values())
    if not total:
        sys.exit("no process ended while the command ran: nothing to count")
    shown = (
        " ".join(args.command)
        if args.command
        else (f"the sandbox rollback (after a reset), by the code of {args.code.resolve()}")
    )
    lines = [
        f"CPU by program: {shown}; exit {done.returncode}, {wall:.1f} s, {total:.1f} CPU-s "
        f"({total / wall:.2f} cores busy on average), {sum(processes.values())} processes.",
        "",
        "| program | CPU-s | share | processes | CPU-s each |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {cpu:.1f} | {cpu / total:.0%} | {processes[name]} | "
            f"{cpu / processes[name]:.2f} |"
            for name, cpu in seconds.most_common(15)
            if cpu >= 0.1
        ),
    ]
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
