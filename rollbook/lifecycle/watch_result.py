"""§8.2's extended watch, appended to the rollback it watched: `pytest features/validation.feature
--env=E --watch 30m --incident ID` writes watch-8.2.json into that incident's folder, sets its
markdown's final state (ESTABLE only when every §8.2 check passed over the window) and signs the
folder again."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollbook.core.errors import UserError
from rollbook.core.journal import read_journal
from rollbook.core.run import Run
from rollbook.governance import people, sign_off, signing, statements
from rollbook.lifecycle.outcome import COMPLETED
from rollbook.record import closing

RESULT = "watch-8.2.json"
FINAL_STATE = closing.FINAL_STATE


def window_text(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def verdict(run: Run) -> dict[str, Any]:
    """This validation run's §8.2 checks: each one's status, the error lines of the window."""
    checks = {
        e["paso"]: e["status"]
        for e in run.incident.journal.events("paso_finished")
        if str(e["paso"]).startswith("8.2")
    }
    facts = run.incident.journal.facts()
    watched = facts.get("log_watch", {})
    failed = [name for name, status in checks.items() if status == "failed"]
    skipped = [name for name, status in checks.items() if status == "skipped"]
    window = float(
        watched.get("asked") or watched.get("seconds") or run.incident.options.watch or 0
    )
    errors = len(watched.get("errors") or [])
    if failed or "log_watch" not in facts:
        state = "NO ESTABLE (8.2: " + ("; ".join(failed) or "la vigilancia no se ejecutó") + ")"
    else:
        unchecked = f"; no comprobado: {'; '.join(skipped)}" if skipped else ""
        state = f"ESTABLE (8.2: {window_text(window)} sin errores{unchecked})"
    return {
        "state": state,
        "window_s": window,
        "errors": errors,
        "checks": checks,
        "validation_incident": run.incident.id,
    }


def append(run: Run, folder: Path) -> tuple[str, int]:
    """Write the verdict into the rollback's folder and sign it again, once the folder verifies,
    is a completed rollback of this environment and can be signed: (state, sign-offs that now
    sign a previous version and must be made again). The signature it replaces is kept, hashed,
    in previous-signature-N/. Nothing is left half-written if signing fails."""
    check_appendable(run, folder)
    result = verdict(run)
    kept = {path: path.read_bytes() for path in _touched(folder) if path.is_file()}
    previous = _previous_signature_folder(folder)
    try:
        previous.mkdir(mode=0o700)
        for name in (signing.SIGNER, signing.MANIFEST, signing.SIGNATURE):
            (folder / name).rename(previous / name)
        path = folder / RESULT
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        path.chmod(0o600)
        for markdown in folder.glob("ROLLBACK-*.md"):
            lines = markdown.read_text(encoding="utf-8").splitlines()
            lines = [
                FINAL_STATE + result["state"] if line.startswith(FINAL_STATE) else line
                for line in lines
            ]
            markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
        event = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "watch_appended",
            **result,
        }
        with (folder / "journal.jsonl").open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(event, ensure_ascii=False) + "\n")
        chosen = statements.record_key(run.site.env, run.incident.options.signing_key)
        assert chosen is not None and run.site.env.signing is not None  # refused above otherwise
        signing.sign_folder(folder, *chosen, run.site.env.signing.namespace)
    except (OSError, UserError):
        if folder / RESULT not in kept:
            (folder / RESULT).unlink(missing_ok=True)
        for path, data in kept.items():
            path.write_bytes(data)
        for name in (signing.SIGNER, signing.MANIFEST, signing.SIGNATURE):
            if (previous / name).is_file():
                (previous / name).rename(folder / name)
        shutil.rmtree(previous, ignore_errors=True)
        raise
    return result["state"], len(statements.in_folder(folder))


def _touched(folder: Path) -> list[Path]:
    return [folder / "journal.jsonl", folder / RESULT, *folder.glob("ROLLBACK-*.md")]


def _previous_signature_folder(folder: Path) -> Path:
    number = 1
    while (folder / f"previous-signature-{number}").exists():
        number += 1
    return folder / f"previous-signature-{number}"


def check_appendable(run: Run, folder: Path) -> None:
    if not (folder / "journal.jsonl").is_file():
        raise UserError(f"--incident: {folder} is not an incident folder")
    if run.site.env.signing is None:
        raise UserError(
            f"environment {run.site.env.name} has no signing key: the record cannot be "
            "signed again, nothing is appended"
        )
    made = sign_off.facts(folder).get("provenance") or {}
    environment = Path(made.get("environment", {}).get("file", "?")).stem
    if environment != run.site.env.name:
        raise UserError(
            f"--incident {folder.name} is a rollback of {environment}, not of {run.site.env.name}"
        )
    key = statements.record_key(run.site.env, run.incident.options.signing_key)
    problem = signing.usable_key(key[0]) if key else None
    if problem:
        raise UserError(f"the record could not be signed again: {problem}")
    ended = [e for e in read_journal(folder / "journal.jsonl") if e["event"] == "outcome"]
    if not ended or ended[-1]["outcome"] != COMPLETED:
        said = ended[-1]["outcome"] if ended else "without an outcome"
        raise UserError(f"--incident {folder.name} ended {said}: §8.2 watches a completed rollback")
    allowed = run.site.env.signing.allowed_signers
    with tempfile.TemporaryDirectory() as scratch:
        trusted = people.record_signers(
            run.site.env, Path(allowed) if allowed else None, Path(scratch)
        )
        problems = signing.verify_folder(folder, trusted)
    if problems:
        raise UserError(
            f"--incident {folder.name} does not verify ({problems[0]}): nothing appended"
        )
