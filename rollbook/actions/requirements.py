"""The target's requirements read the way pip reads them: `-r`/`-c` includes (relative to the
file that names them), continuation lines, comments, extras, markers, hashes, options."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.resources import Checkout

_PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#,]+)\s*(?:;|$|\s)"
)
_INCLUDE = re.compile(r"^(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s*)(\S+)$")
_COMMENT = re.compile(r"(^|\s)#.*$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> list[str]:
    """pip's lines: comments dropped, backslash continuations joined, blanks skipped."""
    lines, pending = [], ""
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def pins_of(text: str) -> tuple[dict[str, str], list[str]]:
    """({normalized name: version} of the exact `==` pins, [included files as written])."""
    pins: dict[str, str] = {}
    includes = []
    for line in logical_lines(text):
        include = _INCLUDE.match(line)
        if include:
            includes.append(include.group(1))
            continue
        pin = _PIN.match(line)
        if pin:
            pins.setdefault(normalize(pin.group(1)), pin.group(2))
    return pins, includes


# an editable install, a path (a first word with a "/" that is no URL), a file URL
_LOCAL = re.compile(r"^(?:-e|--editable)|^(?:\.|/|file:)|^(?!\S*://)[^\s-]\S*/|@\s*file:")


def local_code(lines: list[str]) -> list[str]:
    """The requirement lines that install from a folder or a file on the host, or as an
    editable source (`-e .`, `libs/x`, `name@file://…`, `-e git+…`): what pip installs from them
    depends on where and when it runs."""
    return [line for line in lines if _LOCAL.search(line.strip())]


Reader = Callable[[str], "str | None"]  # a file's text; None when it cannot be read


@dataclass(frozen=True)
class Tree:
    """A requirements file and the files it includes, as read: every exact pin, the files in
    the order read, and the lines that install local code (local_code)."""

    pins: dict[str, str]
    files: list[str]
    local: list[str]


def read_tree(read: Reader, path: str, where: str) -> Tree:
    """The requirements file at `path` and the files it includes (requirements and
    constraints), each read once."""
    pins: dict[str, str] = {}
    todo, files, local = [path], [], []
    while todo:
        current = posixpath.normpath(todo.pop(0))
        if current in files:
            continue
        text = read(current)
        if text is None:
            raise StepFailed(f"{where}: cannot read the requirements file {current}")
        files.append(current)
        local += local_code(logical_lines(text))
        found, includes = pins_of(text)
        for name, version in found.items():
            pins.setdefault(name, version)
        for include in includes:
            if "://" in include:
                raise StepFailed(
                    f"{where}: {current} includes {include}: a requirements file behind a URL "
                    "cannot be read before the install — vendor it into the repository"
                )
            todo.append(posixpath.join(posixpath.dirname(current), include))
    return Tree(pins, files, local)


def pinned(host: Host, path: str) -> dict[str, str]:
    """The exact pins of the requirements file at `path` on the host, includes followed."""

    def cat(file: str) -> str | None:
        done = host.run(["cat", file], mutating=False, check=False, app=True)
        return done.stdout if done.ok else None

    return read_tree(cat, path, host.name).pins


def at_tag(tree: Checkout, tag: str, path: str) -> Tree:
    """The requirements as committed at `tag` (`path` relative to the checkout)."""

    def show(file: str) -> str | None:
        done = tree.host.run(
            ["git", "-C", tree.path, "show", f"{tag}:{file}"], mutating=False, check=False, app=True
        )
        return done.stdout if done.ok else None

    return read_tree(show, path, f"{tree.host.name} at {tag}")
