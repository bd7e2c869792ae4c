"""Which procedure ran: the document and version the feature files execute, rollbook's version
and commit, the sha256 of every feature file, of every file of the code and the procedure
document, and of the environment file, and that file's text (secrets are only variable names
there)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from rollbook.core.config import Environment, extended_files

ROOT = Path(__file__).resolve().parents[2]
_CODE = ("rollbook", "steps", "features", "conftest.py")  # what runs; not docs or tests
_DOCUMENT = "procedures"  # the written procedure the features execute
HASHED = (*_CODE, _DOCUMENT)  # what code_files() hashes, file by file
_HEADER = re.compile(r"^#\s*procedimiento:\s*(\S+)\s+v(\S+)", re.MULTILINE)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def procedure_of(path: Path) -> tuple[str, str] | None:
    """(id, version) from a feature file's `# procedimiento: PROCED-BACK-003 v1.0.0` line."""
    head = "\n".join(path.read_text(encoding="utf-8").splitlines()[:5])
    match = _HEADER.search(head)
    return (match.group(1), match.group(2)) if match else None


def _commit() -> str:
    """rollbook's git commit (`+changes` when its code differs from it), or `n/d`."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
            )
        except OSError:  # no git: an installed copy
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return "n/d"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", *_CODE)
    return commit + ("+changes" if changed else "")


def code_files() -> dict[str, str]:
    """The sha256 of every file that runs or says what runs — rollbook, steps, features,
    conftest.py and the written procedure (procedures/) — by its path in the checkout."""
    found = {}
    for part in HASHED:
        top = ROOT / part
        files = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path.relative_to(ROOT))] = _sha256(path)
    return found


def code_sha256(files: dict[str, str] | None = None) -> str:
    """One sha256 over the code that runs (its files' names and contents): rollbook's own
    version, whatever git says of it."""
    digest = hashlib.sha256()
    for name, sha in (code_files() if files is None else files).items():
        if Path(name).parts[0] in _CODE:
            digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


def feature_name(path: Path) -> str:
    """A feature file's name in the record: relative to rollbook's checkout when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


# §12.1's tools, as the operator's machine has them (the clients rollbook runs there)
TOOLS = {
    "git": ["git", "--version"],
    "psql": ["psql", "--version"],
    "pg_dump": ["pg_dump", "--version"],
    "ssh": ["ssh", "-V"],
    "curl": ["curl", "--version"],
}


def tool_versions() -> dict[str, str]:
    """Each of §12.1's tools: its version line, or "no encontrado"."""
    found = {}
    for name, argv in TOOLS.items():
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            done = None
        said = (done.stdout or done.stderr).strip().splitlines() if done else []
        found[name] = said[0][:80] if done and done.returncode == 0 and said else "no encontrado"
    return found


def collect(features: list[Path], env: Environment) -> dict[str, Any]:
    procedures = {procedure_of(path) for path in features} - {None}
    source = Path(env.source)
    try:
        version = metadata.version("rollbook")
    except metadata.PackageNotFoundError:
        version = "n/d"
    files = code_files()
    return {
        "procedure": sorted(f"{pid} v{ver}" for pid, ver in procedures) or ["n/d"],  # type: ignore[misc]
        "features": {feature_name(path): _sha256(path) for path in sorted(features)},
        "rollbook": {"version": version, "commit": _commit(), "code_sha256": code_sha256(files)},
        "files": files,
        "tools": tool_versions(),
        "environment": {
            "file": str(source),
            "sha256": _sha256(source),
            "content": source.read_text(encoding="utf-8"),
            # the files it extends: its values come from them too
            "extends": [
                {
                    "file": str(path),
                    "sha256": _sha256(path),
                    "content": path.read_text(encoding="utf-8"),
                }
                for path in extended_files(source)
            ],
        },
    }


def summary(fact: dict[str, Any] | None) -> str:
    if not fact:
        return "n/d"
    rollbook = fact["rollbook"]
    changed = " con cambios sin commit" if rollbook["commit"].endswith("+changes") else ""
    return (
        f"{', '.join(fact['procedure'])} — rollbook {rollbook['version']} "
        f"({rollbook['commit'][:12]}{changed})"
    )


def tools(fact: dict[str, Any] | None) -> str:
    """§12.1's tools on the operator's machine, one line."""
    found = (fact or {}).get("tools") or {}
    return "; ".join(f"{name}: {said}" for name, said in found.items()) or "n/d"


def hashes(fact: dict[str, Any] | None) -> list[str]:
    """One line per hashed file: the feature files and the environment file."""
    if not fact:
        return []
    environment = fact["environment"]
    return [f"{name}: sha256 {digest}" for name, digest in fact["features"].items()] + [
        f"{e['file']}: sha256 {e['sha256']}" for e in [environment, *environment.get("extends", [])]
    ]


def differences(fact: dict[str, Any]) -> list[str]:
    """The files of the run that differ from this checkout, each named: code, steps, features,
    the procedure document. A record from before files were hashed one by one names its
    feature files and says whether the code as a whole differs."""
    here = code_files()
    recorded = fact.get("files")
    found = []
    for name, digest in fact.get("features", {}).items():
        if recorded is not None and name in recorded:
            continue
        path = Path(name) if Path(name).is_absolute() else ROOT / name
        if not path.is_file():
            found.append(f"{name}: not in this checkout ({ROOT})")
        elif _sha256(path) != digest:
            found.append(f"{name}: differs from this checkout's ({ROOT})")
    if recorded is None:
        if fact.get("rollbook", {}).get("code_sha256") not in (None, code_sha256(here)):
            found.append(
                f"rollbook's code: differs from this checkout's ({ROOT}); the record predates "
                "per-file hashes, so the files are not named"
            )
        return found
    for name in sorted(recorded.keys() | here.keys()):
        if name not in here:
            found.append(f"{name}: ran, not in this checkout ({ROOT})")
        elif name not in recorded:
            found.append(f"{name}: in this checkout ({ROOT}), not in the code that ran")
        elif here[name] != recorded[name]:
            found.append(f"{name}: differs from this checkout's ({ROOT})")
    return found
