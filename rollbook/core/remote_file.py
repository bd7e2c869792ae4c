"""Text written to a file on a host: the text and the path are positional arguments of a fixed
script, never part of it (DESIGN.md, security principles)."""

from __future__ import annotations

_WRITE = 'printf "%s\\n" "$1" > "$2"'
_APPEND = 'printf "%s\\n" "$1" >> "$2"'


def write_argv(text: str, path: str, *, append: bool = False, lock: str | None = None) -> list[str]:
    """The command writing `text` and a newline to `path`; under `flock lock` when given."""
    argv = ["sh", "-c", _APPEND if append else _WRITE, "sh", text, path]
    return ["flock", lock, *argv] if lock else argv
