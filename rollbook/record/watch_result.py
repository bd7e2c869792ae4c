"""§8.2's extended watch, appended to the rollback it watched: `pytest features/validation.feature
--env=E --watch 30m --incident ID` writes watch-8.2.json into that incident's folder, sets its
markdown's final state (ESTABLE only when every §8.2 check passed over the window) and signs the
folder again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rollbook.core.errors import UserError
from rollbook.core.run import Run
from rollbook.record import signing, statements

RESULT = "watch-8.2.json"
FINAL_STATE = "- Estado final: "


def window_text(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def verdict(run: Run) -> dict[str, Any]:
    """This validation run's §8.2 checks: each one's status, the error lines of the window."""
    checks = {
        e["paso"]: e["status"]
        for e in run.journal.events("paso_finished")
        if str(e["paso"]).startswith("8.2")
    }
    watched = run.facts.get("log_watch", {})
    failed = [name for name, status in checks.items() if status == "failed"]
    window = float(watched.get("seconds") or run.options.watch or 0)
    errors = len(watched.get("errors") or [])
    if failed or "log_watch" not in run.facts:
        state = "NO ESTABLE (8.2: " + ("; ".join(failed) or "la vigilancia no se ejecutó") + ")"
    else:
        state = f"ESTABLE (8.2: {window_text(window)} sin errores)"
    return {"state": state, "window_s": window, "errors": errors, "checks": checks,
            "validation_incident": run.incident_id}  # fmt: skip


def append(run: Run, folder: Path) -> tuple[str, int]:
    """Write the verdict into the rollback's folder and sign it again: (state, sign-offs that
    now sign a previous version and must be made again)."""
    if not (folder / "journal.jsonl").is_file():
        raise UserError(f"--incident: {folder} is not an incident folder of {run.env.name}")
    result = verdict(run)
    path = folder / RESULT
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    path.chmod(0o600)
    for markdown in folder.glob("ROLLBACK-*.md"):
        lines = markdown.read_text(encoding="utf-8").splitlines()
        lines = [FINAL_STATE + result["state"] if line.startswith(FINAL_STATE) else line
                 for line in lines]  # fmt: skip
        markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    chosen = statements.record_key(run.env, run.options.signing_key)
    if chosen is not None and run.env.signing is not None:
        signing.sign_folder(folder, *chosen, run.env.signing.namespace)
    return result["state"], len(statements.in_folder(folder))
