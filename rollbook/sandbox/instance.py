"""Sandbox instances side by side: instance N has its own folder, port block and environment files.

Instance 0 is the sandbox as environments/ describes it: `.sandbox/`, ports 25432, 26379,
28000-28090, 22201…, 22290. Instance N ≥ 1 lives under `.sandbox-N/`; its environment files,
generated from environments/sandbox*.yaml and fleet*.yaml into `.sandbox-N/environments/`, name
its folder and every port shifted by N * PORT_STEP (all below 32768, outside the ephemeral range).
The engine and `rollbook sandbox` read instance N's files when $ROLLBOOK_ENVIRONMENTS names that
folder and $ROLLBOOK_SANDBOX_INSTANCE is N (`activate`).

Instance numbers are the machine's, since ports are: a checkout claims one (REGISTRY/N names the
checkout and the claiming process) and holds it while that process lives or its sandbox runs.
Without --instance, `rollbook sandbox` uses the instance its checkout holds (`held`), or the first
one nobody holds (`choose`): two checkouts on one machine each get their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

from rollbook.core import local_process
from rollbook.core.config import ENVIRONMENTS_DIR
from rollbook.core.errors import UserError

REPO = ENVIRONMENTS_DIR.parent
VARIABLE = "ROLLBOOK_SANDBOX_INSTANCE"
PORT_STEP = 200  # each block spans less: 28000-28090, 22201 + app hosts, 22290
HIGHEST_PORT = 32767  # below Linux's ephemeral range
FILES = ("sandbox*.yaml", "fleet*.yaml")  # the environments that describe the sandbox
_PORT_KEYS = ("port", "redis_port", "notify_port", "fleet_ssh_port", "systemd_ssh_port")
# where a path relative to environments/ starts: a value, a list item, a host spec's option
_RELATIVE = r"(?:(?<=[\s\[:])|(?<=_config=)|(?<=_file=)|(?<=inventory=))"
_HIGHEST_BASE = 28090  # the highest port instance 0 uses (the notifications receiver)
LARGEST = (HIGHEST_PORT - _HIGHEST_BASE) // PORT_STEP
REGISTRY = Path("/var/tmp/rollbook-sandbox-instances")  # N → "checkout\npid" of its holder


def current() -> int:
    """The instance this process acts on: $ROLLBOOK_SANDBOX_INSTANCE, 0 when unset."""
    return number(os.environ.get(VARIABLE) or "0")


def number(text: str) -> int:
    """An instance number, checked; a one-line error naming the range otherwise."""
    if not text.isdigit() or int(text) > LARGEST:
        raise UserError(f"--instance {text!r}: give a number from 0 to {LARGEST}")
    return int(text)


def root(n: int) -> Path:
    """Where everything of instance `n` lives (but a PostgreSQL cluster its owner cannot reach)."""
    return REPO / _folder(n)


def environments(n: int) -> Path:
    """The folder of instance `n`'s environment files (environments/ itself for instance 0)."""
    return ENVIRONMENTS_DIR if n == 0 else root(n) / "environments"


def holder(n: int) -> Path | None:
    """The checkout that holds instance `n` now (None: nobody): its claim is live while the
    claiming process runs or that checkout's sandbox of instance `n` runs (its supervisord)."""
    try:
        checkout, pid = (REGISTRY / str(n)).read_text().split("\n")[:2]
    except (OSError, ValueError):
        return None
    if _alive(pid) or _alive(_read(Path(checkout) / _folder(n) / "run" / "supervisord.pid")):
        return Path(checkout)
    return None


def held() -> int | None:
    """The lowest instance this checkout holds now (its sandbox runs), None when it holds none."""
    return next((n for n in range(LARGEST + 1) if holder(n) == REPO), None)


def choose(rank: int = 0) -> int:
    """The `rank`-th (from 0) instance of those this checkout holds or nobody holds, claimed
    for this process (pytest-xdist's worker gwK takes rank K: the same count for every worker) —
    one line naming the fix when none is left."""
    with _registry_lock():
        free = [n for n in range(LARGEST + 1) if holder(n) in (None, REPO)]
        if rank >= len(free):
            raise UserError(
                f"no sandbox instance left for this checkout ({len(free)} free of "
                f"{LARGEST + 1}): take another checkout's down (`rollbook sandbox down`)"
            )
        claim(free[rank])
        return free[rank]


def spare() -> int:
    """The lowest instance nobody holds, claimed for this process (a second one beside this
    checkout's own)."""
    with _registry_lock():
        n = next((n for n in range(LARGEST + 1) if holder(n) is None), None)
        if n is None:
            raise UserError("no sandbox instance is free: take one down (`rollbook sandbox down`)")
        claim(n)
        return n


def claim(n: int) -> None:
    """Instance `n` is this checkout's, for as long as this process lives or its sandbox runs;
    refused when another checkout holds it."""
    REGISTRY.mkdir(mode=0o1777, parents=True, exist_ok=True)
    other = holder(n)
    if other not in (None, REPO):
        raise UserError(
            f"sandbox instance {n} is held by the checkout {other}: give another --instance "
            "(or none: the first free one is taken)"
        )
    (REGISTRY / str(n)).write_text(f"{REPO}\n{os.getpid()}\n")


def _folder(n: int) -> str:
    return ".sandbox" if n == 0 else f".sandbox-{n}"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _alive(pid: str) -> bool:
    return pid.isdigit() and local_process.alive(int(pid))


@contextlib.contextmanager
def _registry_lock() -> Iterator[None]:
    REGISTRY.mkdir(mode=0o1777, parents=True, exist_ok=True)
    with (REGISTRY / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fleet_user(index: int, n: int | None = None) -> str:
    """The system user of app host `index` of instance `n` (the current one by default): a
    user's home is its host's folder, so no two instances share one."""
    n = current() if n is None else n
    return f"rollbook-app{index}" if n == 0 else f"rollbook{n}-app{index}"


def activate(n: int) -> None:
    """This process (and the commands it starts) acts on instance `n`, claimed: its environment
    files written (from environments/, every time: they follow the checkout) and named."""
    with _registry_lock():
        claim(n)
    os.environ[VARIABLE] = str(n)
    if n == 0:
        os.environ.pop("ROLLBOOK_ENVIRONMENTS", None)
        return
    folder = environments(n)
    folder.mkdir(parents=True, exist_ok=True)
    sandbox = {path for pattern in FILES for path in ENVIRONMENTS_DIR.glob(pattern)}
    for source in sorted(ENVIRONMENTS_DIR.glob("*.yaml")):  # the others beside them, as they are
        text = source.read_text()
        mine = (
            shifted(text, n)
            if source in sandbox
            else re.sub(_RELATIVE + r"\.\./", f"{REPO}/", text)
        )
        (folder / source.name).write_text(mine)
    os.environ["ROLLBOOK_ENVIRONMENTS"] = str(folder)


def shifted(text: str, n: int) -> str:
    """An environment file of instance 0 as instance `n`'s: `../.sandbox/` is its folder, other
    `../` paths are the checkout's (absolute: the file lives elsewhere), every port of 127.0.0.1
    and every `*port:` key is N * PORT_STEP higher, and the fleet's users are its own. Pip's
    `--find-links=../../…`, relative to the app's checkout, stays: it follows the checkout into
    the instance's folder."""
    offset = n * PORT_STEP
    text = re.sub(_RELATIVE + r"\.\./\.sandbox/", f"{root(n)}/", text)
    text = re.sub(_RELATIVE + r"\.\./", f"{REPO}/", text)
    text = re.sub(r"(?<=127\.0\.0\.1:)(\d+)", lambda m: str(int(m[1]) + offset), text)
    text = re.sub(r"rollbook-app(\d+)@", lambda m: f"{fleet_user(int(m[1]), n)}@", text)
    keys = "|".join(_PORT_KEYS)
    return re.sub(
        rf"^(\s*(?:{keys}):\s*)(\d+)", lambda m: f"{m[1]}{int(m[2]) + offset}", text, flags=re.M
    )
