"""Runs with a venv's own Python (`python -c`), never imported by rollbook: what `pip freeze --all`
prints for that venv, read from the installed metadata without starting pip (pip's start is most
of its 0.4 s; this takes a tenth of it).

It answers only where its lines are pip's own, byte for byte: pip reading metadata through
importlib.metadata (pip 23 or later on Python 3.11 or later, no override), every distribution a
plain install in a site-packages folder with a name, a canonical version (PEP 440, printed as
pip prints it) and no other copy on the path. Anything else — an editable or direct-URL install
(direct_url.json), an egg, a legacy `setup.py develop`, a version pip would rewrite — exits 3:
the caller then asks pip itself.
"""

import os
import re
import sys

ASK_PIP = 3
CANONICAL = re.compile(
    r"([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?"
    r"(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?"
)
FOLDERS = ("site-packages", "dist-packages")


def ask_pip(why):
    print(why)
    sys.exit(ASK_PIP)


def pip_reads_importlib(metadata):
    """pip's own choice of metadata backend (pip._internal.metadata), and a pip that has it."""
    if "_PIP_USE_IMPORTLIB_METADATA" in os.environ or sys.version_info < (3, 11):
        return False
    if not getattr(metadata, "_PIP_USE_IMPORTLIB_METADATA", True):
        return False
    try:
        major = int(metadata.version("pip").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 23


def lines():
    from importlib import metadata

    if not pip_reads_importlib(metadata):
        ask_pip("pip reads metadata another way here")
    paths = [p for p in sys.path if p]  # pip's own path: its script's folder, never the cwd
    if any(p.endswith(".egg") or os.path.isfile(os.path.join(p, "easy-install.pth"))
           for p in paths):  # fmt: skip
        ask_pip("eggs or legacy develop installs on the path")
    seen, out = set(), []
    for dist in metadata.distributions(path=paths):
        name, version = dist.metadata["Name"], dist.version
        where = getattr(dist, "_path", None)
        if not name or not version or where is None:
            ask_pip(f"a distribution without a name or version: {where}")
        if os.path.basename(os.path.dirname(str(where))) not in FOLDERS:
            ask_pip(f"a distribution outside site-packages: {where}")
        if dist.read_text("direct_url.json") is not None:
            ask_pip(f"{name} was installed from a URL or as editable")
        if not CANONICAL.fullmatch(version):
            ask_pip(f"{name}'s version {version} is not in canonical form")
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            ask_pip(f"{name} is installed twice on the path")
        seen.add(key)
        out.append(f"{name}=={version}")
    return sorted(out, key=str.lower)


if __name__ == "__main__":
    print("\n".join(lines()))
