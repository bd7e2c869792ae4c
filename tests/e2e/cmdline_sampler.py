"""What any local user sees: an unprivileged process reading every process's command line on the
machine every 20 ms while a run goes on, counting the command lines that hold a secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SAMPLER = r"""
import json, os, signal, sys, time
secrets = [line.rstrip("\n") for line in sys.stdin if line.strip()]
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
samples, hits = 0, []
while not stop:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                text = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for secret in secrets:
            if secret in text:
                hits.append(text.replace(secret, "<SECRET>")[:300])
    samples += 1
    time.sleep(0.02)
print(json.dumps({"samples": samples, "hits": hits[:20], "count": len(hits)}))
"""


@dataclass
class Sampled:
    samples: int = 0
    count: int = 0
    hits: list[str] = field(default_factory=list)


def _unprivileged() -> list[str]:
    """Run as `nobody` on the system Python when this is root (as any local user would), else
    as this user."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--", "/usr/bin/python3"]
    return [sys.executable]


@contextmanager
def watching(secrets: list[str]) -> Iterator[Sampled]:
    """Sample every command line while the block runs; the result is filled in at its end."""
    sampled = Sampled()
    process = subprocess.Popen(
        [*_unprivileged(), "-I", "-c", SAMPLER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    assert process.stdin is not None
    process.stdin.write("".join(f"{s}\n" for s in secrets))  # never on its own command line
    process.stdin.close()
    process.stdin = None  # written and closed: communicate() must not flush it again
    try:
        yield sampled
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
        found = json.loads(out)
        sampled.samples, sampled.count, sampled.hits = (
            found["samples"],
            found["count"],
            found["hits"],
        )
