"""Runs with a venv's own Python (`python -c`), never imported by rollbook: which installed
distributions of that venv have a file that is not, byte for byte, what their wheel installed.

pip writes each distribution's RECORD as it installs it: every file's path (relative to the
site-packages folder holding the .dist-info), its sha256 and its size. A file whose sha256 is
still the recorded one is the file a reinstall from the same wheel writes; one that differs or is
missing (edited, truncated, half removed) is said. Rows without a hash (RECORD itself, bytecode)
are not checked: bytecode is checked by Python against its source at import.

Prints JSON: {"files": files checked, "damaged": {"Name==version": [up to 3 paths, why]}}.
"""

import base64
import csv
import hashlib
import json
import os
import sys
from importlib import metadata


def damage(dist):
    """The first paths of `dist` whose content is not its RECORD's, each with why."""
    folder = os.path.dirname(str(dist._path))
    rows = csv.reader((dist.read_text("RECORD") or "").splitlines())
    found, checked = [], 0
    for row in rows:
        if len(row) < 2 or "=" not in row[1]:
            continue
        algorithm, _, wanted = row[1].partition("=")
        path = os.path.normpath(os.path.join(folder, row[0]))
        checked += 1
        try:
            with open(path, "rb") as f:
                got = hashlib.new(algorithm, f.read()).digest()
        except OSError as exc:
            found.append(f"{row[0]} ({exc.strerror})")
            continue
        if base64.urlsafe_b64encode(got).rstrip(b"=").decode() != wanted:
            found.append(f"{row[0]} (differs)")
    return checked, found[:3]


def main():
    files, damaged = 0, {}
    for dist in metadata.distributions(path=[p for p in sys.path if p]):
        if getattr(dist, "_path", None) is None or not str(dist._path).startswith(sys.prefix):
            continue  # the base Python's own, or a path outside the venv
        checked, found = damage(dist)
        files += checked
        if found:
            damaged[f"{dist.metadata['Name']}=={dist.version}"] = found
    print(json.dumps({"files": files, "damaged": damaged}))


if __name__ == "__main__":
    main()
