"""The fleet's hosts are reset by copying only what differs from their image: the copy must end
exactly as the image whatever a rollback changed in it."""

import os
from pathlib import Path

from rollbook.sandbox.mirror import mirror


def tree(root: Path) -> dict[str, tuple[str, str, int]]:
    """Every entry under `root`: its kind, content (or link target) and permission bits."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path), 0)
            elif path.is_dir():
                found[rel] = ("dir", "", path.stat().st_mode & 0o7777)
            else:
                found[rel] = ("file", path.read_text(), path.stat().st_mode & 0o7777)
    return found


def image(root: Path) -> Path:
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "bin" / "tool").write_text("#!/bin/sh\n")
    (root / "venv" / "bin" / "tool").chmod(0o755)
    (root / "venv" / "bin" / "python").symlink_to("/usr/bin/python3")
    (root / "app" / "core").mkdir(parents=True)
    (root / "app" / "core" / "version.py").write_text("VERSION = '1.0.1'\n")
    (root / "app" / "settings").write_text("a")
    return root


def test_a_copy_changed_every_way_a_rollback_changes_it_is_made_the_image_again(
    tmp_path: Path,
) -> None:
    source = image(tmp_path / "image")
    dest = tmp_path / "host"
    assert mirror(source, dest) == len(tree(source))
    assert tree(dest) == tree(source)
    # what a rollback does to a host: a file rewritten at the same size (a version string), one
    # removed, one added, a folder added, a file become a folder, a mode and a link changed
    (dest / "app" / "core" / "version.py").write_text("VERSION = '1.0.2'\n")
    (dest / "venv" / "bin" / "tool").unlink()
    (dest / "app" / "core" / "new.py").write_text("x")
    (dest / "app" / "__pycache__").mkdir()
    (dest / "app" / "__pycache__" / "m.pyc").write_bytes(b"\0")
    (dest / "app" / "settings").unlink()
    (dest / "app" / "settings").mkdir()
    (dest / "app" / "core").chmod(0o700)
    (dest / "venv" / "bin" / "python").unlink()
    (dest / "venv" / "bin" / "python").symlink_to("/usr/bin/python3.11")
    written = mirror(source, dest)
    assert tree(dest) == tree(source)
    assert written == 5  # version.py, tool, settings, core's mode, the link: nothing else
    assert mirror(source, dest) == 0  # already the same: nothing copied
