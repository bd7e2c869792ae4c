"""§8.2's verdict, as the extended watch appends it to the rollback's record."""

from pathlib import Path

import pytest

from rollbook.core.errors import UserError
from rollbook.lifecycle import watch_result
from tests.unit.local_run import local_run


@pytest.mark.parametrize(
    ("statuses", "watched", "state"),
    [
        (
            {"8.2 — APIs": "passed", "8.2 — Sin errores": "passed"},
            True,
            "ESTABLE (8.2: 30 min sin errores)",
        ),
        (
            {"8.2 — APIs": "failed", "8.2 — Sin errores": "passed"},
            True,
            "NO ESTABLE (8.2: 8.2 — APIs)",
        ),
        ({"8.2 — APIs": "passed"}, False, "NO ESTABLE (8.2: la vigilancia no se ejecutó)"),
        (
            {"8.2 — APIs": "passed", "8.2 — Celery": "skipped"},
            True,
            "ESTABLE (8.2: 30 min sin errores; no comprobado: 8.2 — Celery)",
        ),
    ],
)
def test_stable_only_when_every_check_of_the_window_passed(
    tmp_path: Path, monkeypatch, statuses: dict[str, str], watched: bool, state: str
) -> None:
    run = local_run(tmp_path, monkeypatch, watch=1800.0)
    for paso, status in {"8.1 — Health": "failed", **statuses}.items():  # 8.1 is not 8.2's
        run.incident.journal.write("paso_finished", paso=paso, status=status)
    if watched:
        run.incident.note("log_watch", seconds=1800.0, errors=[])
    assert watch_result.verdict(run)["state"] == state


def test_nothing_is_appended_to_a_record_that_cannot_be_signed_again(
    tmp_path: Path, monkeypatch
) -> None:
    run = local_run(tmp_path, monkeypatch, watch=6.0)  # unit.yaml has no signing key
    run.incident.note("log_watch", seconds=6.0, errors=[])
    folder = tmp_path / "reports" / "2026-11-29-0300-unit"
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_text("{}\n")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(UserError, match="cannot be signed again, nothing is appended"):
        watch_result.append(run, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    with pytest.raises(UserError, match="is not an incident folder"):
        watch_result.append(run, tmp_path / "nowhere")
