"""Runs with a venv's own Python (`python -c`), never imported by rollbook: what `pip freeze --all`
prints for that venv, read from the installed metadata without starting pip (pip's start is most
of its 0.4 s; this takes a tenth of it).

It answers only where its lines are pip's own, byte for byte: pip reading metadata through
importlib.metadata (pip 23 or later on Python 3.11 or later, no override), every distribution a
plain install in a site-packages folder whose name and version (as its folder and its METADATA
both say them) are a canonical version (PEP 440, printed as pip prints it), with no other copy on
the path. Anything else — an editable or direct-URL install (direct_url.json), an egg or an
egg-link, a folder a killed uninstall left (`~jango-4.2.dist-info`), a version pip would rewrite —
exits 3: the caller then asks pip itself. Like pip, it never lists `python`, `wsgiref` or
`argparse` (pip's stdlib_pkgs, skipped even with --all).
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
NEVER_LISTED = {"python", "wsgiref", "argparse"}  # pip's stdlib_pkgs


def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()


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
    for path in paths:
        entries = os.listdir(path) if os.path.isdir(path) else []
        if path.endswith(".egg") or any(e.endswith((".egg", ".egg-link")) for e in entries):
            ask_pip(f"eggs or legacy develop installs on the path: {path}")
    seen, out = set(), []
    for dist in metadata.distributions(path=paths):
        name, version = dist.metadata["Name"], dist.version
        where = getattr(dist, "_path", None)
        if not name or not version or where is None:
            ask_pip(f"a distribution without a name or version: {where}")
        if os.path.basename(os.path.dirname(str(where))) not in FOLDERS:
            ask_pip(f"a distribution outside site-packages: {where}")
        folder, _, said = os.path.basename(str(where)).rpartition(".")[0].partition("-")
        if key(folder) != key(name) or said != version:
            ask_pip(f"{where} is not named for {name} {version}")
        if dist.read_text("direct_url.json") is not None:
            ask_pip(f"{name} was installed from a URL or as editable")
        if not CANONICAL.fullmatch(version):
            ask_pip(f"{name}'s version {version} is not in canonical form")
        if key(name) in seen:
            ask_pip(f"{name} is installed twice on the path")
        seen.add(key(name))
        if key(name) not in NEVER_LISTED:
            out.append(f"{name}=={version}")
    return out


if __name__ == "__main__":
    print("\n".join(lines()))
