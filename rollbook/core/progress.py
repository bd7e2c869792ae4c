"""Progress of long work on a host, so a slow restore is told from a hung one at 3 a.m.

While a command reads a file of known size (psql -f, pg_restore: the backup) or writes one
(pg_dump), a thread asks the host every few seconds how far it is — the read position of the
processes that hold the file open (/proc/PID/fdinfo), or the size written — and says it: percentage,
elapsed and ETA when the size is known, bytes and rate otherwise; at each tenth and at least every
30 s, journaled as `progress` events. When Paso 1.3's trial restore measured the work, its
prediction is said first and beside each line. A file that stops moving for `timeouts.stall`
seconds is said once, before the command's own timeout. The questions themselves are not
journaled: they change nothing and would bury the evidence."""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from types import TracebackType

from rollbook.core.host import Host

INTERVAL = 2.0  # seconds between two questions to the host
EVERY = 30.0  # seconds: at least one line this often
# the read position in FILE of every process that holds it open (pg_restore -j: several)
_READ = (
    'p=$(readlink -f -- "$1") || exit 0; '
    'for fd in $(find /proc/[0-9]*/fd -maxdepth 1 -lname "$p" 2>/dev/null); do '
    'f=${fd#/proc/}; sed -n "s/^pos:[[:space:]]*//p" "/proc/${f%%/*}/fdinfo/${fd##*/}"; done'
)
_WRITTEN = 'stat -c %s -- "$1" 2>/dev/null'


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def wait(
    say: Callable[[str], None],
    what: str,
    seconds: float,
    every: float = EVERY,
    detail: Callable[[], str] | None = None,
) -> None:
    """Sleep `seconds`, saying how far at least every `every` seconds (a window being watched),
    with what `detail` says about it so far."""
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(min(every, seconds - elapsed))
        done = min(time.monotonic() - start, seconds)
        if done < seconds:
            extra = f" — {detail()}" if detail else ""
            say(
                f"  {what}: {done / seconds:.0%} ({clock(done)} de {clock(seconds)}, "
                f"quedan {clock(seconds - done)}){extra}"
            )


def megabytes(size: float) -> str:
    return f"{size / 2**20:.0f} MB"


class Progress:
    """`with Progress(host, "restore", path, total):` around the command that reads `path`
    (`total` its size), or `total=None` around the one that writes it. `expected`: the seconds
    Paso 1.3's trial restore predicts for it; `bound` when that is an upper bound (a dump)."""

    def __init__(
        self,
        host: Host,
        what: str,
        path: str,
        total: int | None,
        *,
        stall: float,
        interval: float = INTERVAL,
        expected: float | None = None,
        bound: bool = False,
    ) -> None:
        self.host, self.what, self.path, self.total = host, what, path, total
        self.stall, self.interval, self.expected, self.bound = stall, interval, expected, bound
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"progress {what}", daemon=True)

    @classmethod
    def reading(
        cls,
        host: Host,
        what: str,
        path: str,
        *,
        stall: float,
        interval: float = INTERVAL,
        expected: float | None = None,
    ) -> Progress:
        """Around a command that reads `path` whole: its size asked here, once."""
        size = cls(host, what, path, None, stall=stall).measure()
        return cls(
            host, what, path, size or None, stall=stall, interval=interval, expected=expected
        )

    def __enter__(self) -> Progress:
        if not self.host.planning:
            if self.expected is not None:
                self.host.tell(
                    f"  {self.what}: {self._predicted()} por la restauración de prueba (Paso 1.3)"
                )
            self._thread.start()
        return self

    def _predicted(self) -> str:
        """'previsto 42 s' ('previsto ≤ 42 s' for a dump, whose prediction is an upper bound)."""
        return f"previsto {'≤ ' if self.bound else ''}{self.expected:.0f} s"

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def measure(self) -> int | None:
        """Bytes read (the furthest reader) or written so far; None when the host did not say."""
        script = _WRITTEN if self.total is None else _READ
        line = f"sh -c {shlex.quote(script)} sh {shlex.quote(self.path)}"
        values = [int(v) for v in self.host.probe(line).split() if v.isdigit()]
        return max(values) if values else None

    def line(self, done: int, elapsed: float) -> str:
        if self.total:
            share, eta = self.share_and_eta(done, elapsed)
            text = (
                f"{self.what}: {share:.0%} ({megabytes(done)} de {megabytes(self.total)}), "
                f"{elapsed:.0f} s" + (f", ETA {eta:.0f} s" if eta is not None else "")
            )
        else:
            rate = done / elapsed if elapsed else 0.0
            text = f"{self.what}: {megabytes(done)} escritos, {elapsed:.0f} s, {megabytes(rate)}/s"
        return text + (f" ({self._predicted()})" if self.expected is not None else "")

    def share_and_eta(self, done: int, elapsed: float) -> tuple[float, float | None]:
        """The share of `total` done, and the seconds left at the rate so far (None at 0)."""
        share = min(done / self.total, 1.0) if self.total else 0.0
        return share, elapsed * (1 - share) / share if share else None

    def _watch(self) -> None:
        start = last_said = moved = time.monotonic()
        said_tenth, last, stalled = -1, None, False
        while not self._stop.wait(self.interval):
            try:
                done, now = self.measure(), time.monotonic()
            except Exception:  # a host that stops answering: the command's own call says so
                continue
            if done is None:
                continue
            if done != last:
                last, moved, stalled = done, now, False
            elif now - moved >= self.stall and not stalled:
                stalled = True
                self._tell(
                    f"WARNING: {self.what}: sin avance desde hace {now - moved:.0f} s "
                    f"(en {megabytes(done)}): ¿un bloqueo? el comando sigue hasta su "
                    "timeout",
                    done,
                    stall=True,
                )
            tenth = int(done * 10 / self.total) if self.total else -1
            if tenth > said_tenth or now - last_said >= EVERY:
                said_tenth, last_said = tenth, now
                self._tell(self.line(done, now - start), done)

    def _tell(self, text: str, done: int, *, stall: bool = False) -> None:
        seen = {"what": self.what, "bytes": done, "total": self.total, "stall": stall}
        self.host.tell(f"  {text}", seen)


# pip install --log LOG: packages collected so far (its log), then installed (each package's
# .dist-info in the venv's site-packages is written when that package is in place)
_PIP = (
    'log="$1" since="$2" venv="$3" from="$4"; c=0; '
    '[ -f "$log" ] && c=$(tail -c +"$from" "$log" | grep -cE " (Collecting|Processing) "); '
    'i=$(find "$venv"/lib/python*/site-packages -maxdepth 1 -name "*.dist-info" '
    '-newermt "@$since" 2>/dev/null | wc -l); echo "$c $i"'
)


class PipProgress(Progress):
    """`with PipProgress(host, log, venv, total):` around `pip install --log LOG`: packages
    collected, then installed, of `total` (Paso 1.2's count of the install) when known; the same
    lines, journal events and stall warning as a restore's."""

    def __init__(
        self,
        host: Host,
        log: str,
        venv: str,
        total: int | None,
        *,
        stall: float,
        interval: float = INTERVAL,
    ) -> None:
        super().__init__(
            host, "pip install", log, 2 * total if total else None, stall=stall, interval=interval
        )
        self.venv, self.packages, self.counted = venv, total, (0, 0)
        # the host's clock, and where this install starts in a log an earlier one wrote (--resume)
        try:
            said = (
                ""
                if host.planning
                else self._ask(f"date +%s; stat -c %s -- {shlex.quote(log)} 2>/dev/null || echo 0")
            )
        except Exception:  # no answer: no progress is said, the install itself goes on
            said = ""
        now, size = [*said.split(), "0", "0"][:2]
        self.since, self.start = now, str(int(size) + 1 if size.isdigit() else 1)

    def _ask(self, line: str) -> str:
        return self.host.probe(line)

    def measure(self) -> int | None:
        args = " ".join(shlex.quote(a) for a in (self.path, self.since, self.venv, self.start))
        values = [
            int(v) for v in self._ask(f"sh -c {shlex.quote(_PIP)} sh {args}").split() if v.isdigit()
        ]
        if len(values) != 2:
            return None
        self.counted = (values[0], values[1])
        return sum(values)

    def line(self, done: int, elapsed: float) -> str:
        collected, installed = self.counted
        of = f" de {self.packages}" if self.packages else ""
        text = f"pip install: recogidos {collected}{of}, instalados {installed}{of}"
        if not self.total:
            return f"{text}, {elapsed:.0f} s"
        share, eta = self.share_and_eta(done, elapsed)
        return f"{text} ({share:.0%}), {elapsed:.0f} s" + (f", ETA {eta:.0f} s" if eta else "")
