"""Paso 3.3's static steps, and the static root snapshot §9 puts back exactly."""

from pathlib import Path

import pytest

from rollbook.actions import static
from rollbook.core.errors import StepFailed
from tests.unit.local_run import local_run


def test_the_snapshot_puts_back_exactly_what_the_steps_cannot_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    host, root = run.site.first_host("app"), tmp_path / "app" / "staticfiles"
    (root / "CACHE").mkdir(parents=True)
    (root / "site.css").write_text("a {}\n")
    (root / "CACHE" / "manifest.json").write_text('{"bundle": "built by compress"}\n')
    before = static.content_hash(host, run.site.env)
    snapshot = static.take_snapshot(host, run.site.env, run.incident.id)
    assert snapshot == {
        "path": f"{tmp_path}/.rollbook/static-{run.incident.id}.tar",
        "sha256": before,
    }
    # Etapa 3's own steps: one command, which makes another file and no manifest
    steps = [["sh", "-c", "echo 'b {}' > staticfiles/other.css"]]
    env = run.site.env.model_copy(
        update={"app": run.site.env.app.model_copy(update={"static_steps": steps})}
    )
    assert static.build_on(host, env) == 1
    assert static.content_hash(host, env) != before
    static.put_back(host, env, snapshot)
    assert static.content_hash(host, env) == before
    assert (root / "CACHE" / "manifest.json").read_text() == '{"bundle": "built by compress"}\n'
    assert not (root / "other.css").exists()


def test_a_failing_static_step_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    steps = [["sh", "-c", "echo 'offline bundle missing' >&2; exit 3"]]
    env = run.site.env.model_copy(
        update={"app": run.site.env.app.model_copy(update={"static_steps": steps})}
    )
    with pytest.raises(StepFailed, match=r"exited 3: offline bundle missing"):
        static.build_on(run.site.first_host("app"), env)


def test_no_static_root_no_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = local_run(tmp_path, monkeypatch)
    taken = static.take_snapshot(run.site.first_host("app"), run.site.env, run.incident.id)
    assert taken == {"path": None, "sha256": None}


def test_every_file_of_djangos_manifest_must_be_in_the_static_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    manifest = '{"paths": {"site.css": "site.abc123.css", "app.js": "app.def456.js"}}'
    made = (
        f"echo '{manifest}' > staticfiles/{static.MANIFEST}; echo 'a' > staticfiles/site.abc123.css"
    )

    def built(script: str) -> int:
        app = run.site.env.app.model_copy(update={"static_steps": [["sh", "-c", script]]})
        return static.build_on(
            run.site.first_host("app"), run.site.env.model_copy(update={"app": app})
        )

    with pytest.raises(StepFailed, match=r"names 1 files the static root lacks \(app.def456.js\)"):
        built(made)
    assert built(f"{made}; echo 'x' > staticfiles/app.def456.js") == 3
