"""Runs on an app host with the app's Python (`python -c`, after labels.py), never imported by
rollbook: the migrations that live in packages rather than in the repository (a third-party
app's, Django's own contrib apps').

argv: a JSON object {package: path of its archive} (the target's versions of the packages a
rollback changes: a wheel, or a source archive .tar.gz / .zip). Prints one JSON object:
"installed", per installed package (normalized name) its version and its migrations
("label.name"), "archives" the migrations per given archive, and "squashes", each squashed
migration found with the migrations it replaces. Files are read from their syntax trees, never
executed.
"""

import json
import re
import sys
import tarfile
import zipfile
from importlib import metadata


def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def installed():
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or key(name) in found:  # the first on the path is the one imported
            continue
        files = [str(path) for path in dist.files or []]

        def read(path, dist=dist):
            try:
                return dist.locate_file(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None

        migrations, squashed = migrations_of(files, read)  # noqa: F821
        found[key(name)] = {"version": dist.version, "migrations": migrations}
        squashes.update(squashed)
    return found


def archive(path):
    """An archive's files by their place in the installed package: a wheel's as they are, a
    source archive's without its top folder (name-version/) and a `src/` layout's folder."""
    if path.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as opened:
            files = {name: opened.read(name) for name in opened.namelist() if name.endswith(".py")}
    else:
        with tarfile.open(path) as opened:
            files = {
                member.name: opened.extractfile(member).read()
                for member in opened
                if member.isfile() and member.name.endswith(".py")
            }
    if not path.endswith(".whl"):
        files = {name.split("/", 1)[1]: text for name, text in files.items() if "/" in name}
        files = {name.removeprefix("src/"): text for name, text in files.items()}
    migrations, squashed = migrations_of(  # noqa: F821
        sorted(files),
        lambda inside: files[inside].decode("utf-8", "replace") if inside in files else None,
    )
    squashes.update(squashed)
    return {"migrations": migrations}


squashes = {}
result = {"installed": installed()}
result["archives"] = {name: archive(path) for name, path in json.loads(sys.argv[1]).items()}
result["squashes"] = squashes
print(json.dumps(result))
