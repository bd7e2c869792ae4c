"""Runs on an app host with the app's Python (`python -c`, after labels.py), never imported by
rollbook: the migrations that live in packages rather than in the repository (a third-party
app's, Django's own contrib apps').

argv: a JSON object {package: path of a wheel} (the target's versions of the packages a rollback
changes). Prints one JSON object: "installed", per installed package (normalized name) its
version and its migrations ("label.name"), "wheels" the same per given wheel, and "squashes",
each squashed migration found with the migrations it replaces. Files are read from their syntax
trees, never executed.
"""

import json
import re
import sys
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


def wheel(path):
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())

        def read(inside):
            return archive.read(inside).decode("utf-8", "replace") if inside in names else None

        migrations, squashed = migrations_of(sorted(names), read)  # noqa: F821
    squashes.update(squashed)
    return {"migrations": migrations}


squashes = {}
result = {"installed": installed()}
result["wheels"] = {name: wheel(path) for name, path in json.loads(sys.argv[1]).items()}
result["squashes"] = squashes
print(json.dumps(result))
