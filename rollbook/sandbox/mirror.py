"""A folder made an exact copy of another by copying only what differs (the fleet's app hosts,
reset from their image: a rollback changes a few hundred of the image's 15 000 files).

A file is copied when its type, size, mode or modification time (to the nanosecond) differs from
the source's; the copy keeps the source's time, so a file changed in the copy since (git, pip,
collectstatic and Python's bytecode all write files with the time they write them) differs
again. Whatever the source lacks is removed.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path


def mirror(source: Path, dest: Path) -> int:
    """`dest` (kept: it may be a mount point) made an exact copy of `source`; the entries
    written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = 0
    for folder, dirs, files in os.walk(source):  # top-down: a folder is made before its walk
        here = Path(folder)
        into = dest / here.relative_to(source)
        wanted = {name: os.lstat(here / name) for name in [*dirs, *files]}
        with os.scandir(into) as found:
            present = {entry.name: entry.stat(follow_symlinks=False) for entry in found}
        for name, have in present.items():
            want = wanted.get(name)
            if want is None or stat.S_IFMT(have.st_mode) != stat.S_IFMT(want.st_mode):
                _remove(into / name, have)
        for name, want in wanted.items():
            have = present.get(name)
            if have is None or not _same(here / name, into / name, have, want):
                _copy(here / name, into / name, want)
                written += 1
    return written


def _same(source: Path, target: Path, have: os.stat_result, want: os.stat_result) -> bool:
    if stat.S_IFMT(have.st_mode) != stat.S_IFMT(want.st_mode):
        return False
    if stat.S_ISLNK(want.st_mode):
        return os.readlink(target) == os.readlink(source)
    if stat.S_IMODE(have.st_mode) != stat.S_IMODE(want.st_mode):
        return False
    return stat.S_ISDIR(want.st_mode) or written(have) == written(want)


def written(info: os.stat_result) -> tuple[int, int]:
    """What a file's write changes: its size and its modification time to the nanosecond."""
    return info.st_size, info.st_mtime_ns


def _copy(source: Path, target: Path, want: os.stat_result) -> None:
    if stat.S_ISDIR(want.st_mode):
        target.mkdir(exist_ok=True)
        target.chmod(stat.S_IMODE(want.st_mode))
        return
    if target.is_symlink() or target.exists():
        target.unlink()
    if stat.S_ISLNK(want.st_mode):
        target.symlink_to(os.readlink(source))
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _remove(path: Path, have: os.stat_result) -> None:
    if stat.S_ISDIR(have.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()
