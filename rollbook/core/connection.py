"""The way to one host and this run's private files there: a host spec's transport
(core/transports.py) and the private folder where secrets reach a command as files, never as
arguments (the Pasos act through rollbook.core.host). A secret file's content travels on standard
input, in one call to the host."""

from __future__ import annotations

import re
import secrets
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from rollbook.core.errors import UserError
from rollbook.core.transports import GRACE, Transport, Transported, transport_for


@dataclass
class Connection:
    """A host spec (local://, ssh://user@h:port?…, ansible://name?…) and the way to it."""

    spec: str
    incident: str
    grace: float = GRACE
    _way: Transport | None = None
    # the run's private folders here, by the words that run a command as their owner: () the
    # login user's, (runuser|sudo …, USER, --) the app user's (app.user)
    _folders: dict[tuple[str, ...], str] = field(default_factory=dict)
    _secrets: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def way(self) -> Transport:
        """The host's transport, made at the first command."""
        if self._way is None:
            self._way = transport_for(self.spec, self.grace)
        return self._way

    def send(
        self, line: str, *, stdin: str | None = None, bound: float | None = None
    ) -> Transported:
        """Run one shell line on the host; `bound` seconds at most, measured here."""
        return self.way.send(line, stdin=stdin, bound=bound)

    def secret_file(self, name: str, content: str, owner: Sequence[str] = ()) -> str:
        """A file only its owner can read, in this run's private folder (0700, made with it),
        written through standard input in one call to the host; its path. The same content is
        written once. `owner`: the words that run a command as the folder's owner (none: the
        login user, under $HOME/.rollbook/runs; the app user's under $TMPDIR or /tmp, since a
        no-login user's home may not exist)."""
        owner = tuple(owner)
        with self._lock:
            known = self._folders.get(owner)
            path = f"{known}/{name}" if known else None
            if path is not None and self._secrets.get(path) == content:
                return path
            folder = shlex.quote(known) if known else run_folder(self.incident, bool(owner))
            quoted = shlex.quote(name)
            script = (
                f'umask 077 && d={folder} && mkdir -p "$d" && cd "$d" && '
                f"cat > {quoted}.new && mv {quoted}.new {quoted} && pwd -P"
            )
            line = shlex.join([*owner, "sh", "-c", script]) if owner else script
            wrote = self.send(line, stdin=content, bound=60)
            if wrote.exit_status != 0 or not wrote.stdout.strip():
                where = "$TMPDIR (or /tmp) as app.user" if owner else "$HOME/.rollbook/runs"
                raise UserError(
                    f"{self.spec}: cannot write the private file {name} under {where}: "
                    f"{wrote.stderr.strip() or wrote.exit_status}"
                )
            known = self._folders[owner] = wrote.stdout.strip().splitlines()[-1]
            path = f"{known}/{name}"
            self._secrets[path] = content
        return path

    def remove_private_folder(self) -> str | None:
        """Remove this run's private folders (their secret files), each as its owner; the
        errors, if any."""
        errors = []
        for owner, folder in list(self._folders.items()):
            done = self.send(shlex.join([*owner, "rm", "-rf", "--", folder]), bound=60)
            errors += [done.error] if done.error else []
        self._folders.clear()
        self._secrets.clear()
        return "; ".join(errors) or None

    def close(self) -> None:
        """The shared connection ended, if the transport keeps one."""
        if self._way is not None:
            self._way.close()


# a run's private folder: the login user's, or the app user's (app.user)
PRIVATE_FOLDER = re.compile(r"/(?:[^/\0]+/)*(?:\.rollbook/runs/|rollbook-run-)\w[^/\0]*")


def run_folder(incident: str, app: bool = False) -> str:
    """A new private folder for a run on a host, as a shell word ($HOME, $TMPDIR expand there):
    named by the incident and a random part, since two report folders may hold incidents of one
    id; the app user's (`app`) in $TMPDIR or /tmp."""
    name = f"{incident}.{secrets.token_hex(4)}"
    if app:
        return f'"${{TMPDIR:-/tmp}}/rollbook-run-"{shlex.quote(name)}'
    return f'"$HOME/.rollbook/runs/"{shlex.quote(name)}'
