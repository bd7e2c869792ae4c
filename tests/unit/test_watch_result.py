"""§8.2's verdict, as the extended watch appends it to the rollback's record."""

from pathlib import Path

import pytest

from rollbook.record import watch_result
from tests.unit.local_run import local_run


@pytest.mark.parametrize(
    ("statuses", "watched", "state"),
    [
        ({"8.2 — APIs": "passed", "8.2 — Sin errores": "passed"}, True,
         "ESTABLE (8.2: 30 min sin errores)"),
        ({"8.2 — APIs": "failed", "8.2 — Sin errores": "passed"}, True,
         "NO ESTABLE (8.2: 8.2 — APIs)"),
        ({"8.2 — APIs": "passed"}, False, "NO ESTABLE (8.2: la vigilancia no se ejecutó)"),
    ],
)  # fmt: skip
def test_stable_only_when_every_check_of_the_window_passed(
    tmp_path: Path, monkeypatch, statuses: dict[str, str], watched: bool, state: str
) -> None:
    run = local_run(tmp_path, monkeypatch, watch=1800.0)
    for paso, status in {"8.1 — Health": "failed", **statuses}.items():  # 8.1 is not 8.2's
        run.journal.write("paso_finished", paso=paso, status=status)
    if watched:
        run.record("log_watch", seconds=1800.0, errors=[])
    assert watch_result.verdict(run)["state"] == state


def test_the_record_gets_the_verdict_and_is_signed_again(tmp_path: Path, monkeypatch) -> None:
    run = local_run(tmp_path, monkeypatch, watch=6.0)
    run.record("log_watch", seconds=6.0, errors=[])
    folder = tmp_path / "reports" / "2026-11-29-0300-unit"
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_text("{}\n")
    (folder / "ROLLBACK-2026-11-29-0300.md").write_text(
        "# Rollback\n- Estado final: ESTABLE (§8.1 verificado; §8.2 pendiente: …)\n"
    )
    state, stale = watch_result.append(run, folder)  # unit.yaml has no signing: not signed
    assert (state, stale) == ("ESTABLE (8.2: 6 s sin errores)", 0)
    markdown = (folder / "ROLLBACK-2026-11-29-0300.md").read_text()
    assert "- Estado final: ESTABLE (8.2: 6 s sin errores)\n" in markdown
    assert (folder / watch_result.RESULT).stat().st_mode & 0o077 == 0
    with pytest.raises(Exception, match="is not an incident folder"):
        watch_result.append(run, tmp_path / "nowhere")
