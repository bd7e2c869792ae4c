"""Which procedure ran: the document and version the feature files execute, rollbook's version
and commit, the sha256 of every feature file and of the environment file, and that file's text
(secrets are only variable names there)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from rollbook.core.config import Environment

ROOT = Path(__file__).resolve().parents[2]
_CODE = ("rollbook", "steps", "features", "conftest.py")  # what runs; not docs or tests
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


def code_sha256() -> str:
    """One sha256 over the code that runs (its files' names and contents): rollbook's own
    version, whatever git says of it."""
    digest = hashlib.sha256()
    for part in _CODE:
        top = ROOT / part
        files = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(ROOT)}\0{_sha256(path)}\n".encode())
    return digest.hexdigest()


def feature_name(path: Path) -> str:
    """A feature file's name in the record: relative to rollbook's checkout when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


def collect(features: list[Path], env: Environment) -> dict[str, Any]:
    procedures = {procedure_of(path) for path in features} - {None}
    source = Path(env.source)
    try:
        version = metadata.version("rollbook")
    except metadata.PackageNotFoundError:
        version = "n/d"
    return {
        "procedure": sorted(f"{pid} v{ver}" for pid, ver in procedures) or ["n/d"],  # type: ignore[misc]
        "features": {feature_name(path): _sha256(path) for path in sorted(features)},
        "rollbook": {"version": version, "commit": _commit(), "code_sha256": code_sha256()},
        "environment": {
            "file": str(source),
            "sha256": _sha256(source),
            "content": source.read_text(encoding="utf-8"),
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


def hashes(fact: dict[str, Any] | None) -> list[str]:
    """One line per hashed file: the feature files and the environment file."""
    if not fact:
        return []
    environment = fact["environment"]
    return [f"{name}: sha256 {digest}" for name, digest in fact["features"].items()] + [
        f"{environment['file']}: sha256 {environment['sha256']}"
    ]


def differences(fact: dict[str, Any]) -> list[str]:
    """The feature files that ran and differ from (or are missing in) this checkout."""
    found = []
    for name, digest in fact.get("features", {}).items():
        path = Path(name) if Path(name).is_absolute() else ROOT / name
        if not path.is_file():
            found.append(f"{name}: not in this checkout ({ROOT})")
        elif _sha256(path) != digest:
            found.append(f"{name}: differs from this checkout's ({ROOT})")
    return found
