"""Issue 7's database options on the real sandbox. restore_strategy swap: the backup restored beside
the running app, renamed in during the downtime, the old database kept whole and dumped after; §9
renames back. verify_by_restore: the backup proven by a trial restore, Etapa 4 predicted."""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollbook.actions.database import loss_statement
from rollbook.core.config import secret
from rollbook.sandbox.variant import fast_options, restoring
from rollbook.sandbox.variant import write_variant as environments
from tests.e2e.sandbox_state import (
    INCIDENT,
    ROOT,
    backup_fingerprints,
    connect,
    dump,
    env,
    fingerprints,
    run_feature,
    state,
)
from tests.e2e.test_etapa1 import newest_nightly

pytestmark = pytest.mark.e2e
DOWNTIME = ("2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3", "4.4", "5.1", "5.2")


def swap_env(tmp_path: Path, **database: object) -> dict[str, str]:
    def change(data: dict[str, Any]) -> None:
        fast_options(data)
        restoring(data)  # swap is a way to restore: the procedure's restore, not a reversal
        data["database"].update(database)

    return environments(tmp_path, change)


def databases() -> set[str]:
    with connect("postgres") as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def reads_whole_database(command: dict[str, Any]) -> bool:
    """A command whose duration grows with the database: a dump, a restore, a per-row scan."""
    argv = command["argv"]
    return (
        bool({"pg_dump", "pg_restore"} & set(argv))
        or ("psql" in argv and "-f" in argv)
        or "hashtextextended(" in " ".join(argv)
    )


def plant_framework_rows() -> None:
    """Rows written after the backup that are not user data: the content type and permission a
    deploy's migrate makes for a new model (Django's post-migrate signals), a login's session;
    and order 1 refunded (its status before: the backup's)."""
    with connect() as conn:
        [ct] = conn.execute(
            "INSERT INTO django_content_type (app_label, model) VALUES "
            "('core', 'auditentry') RETURNING id"
        ).fetchone()
        conn.execute(
            "INSERT INTO auth_permission (name, content_type_id, codename) VALUES "
            "('Can view audit entry', %s, 'view_auditentry')",
            (ct,),
        )
        conn.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES "
            "('rollbooke2esession', 'e30', now() + interval '1 day')"
        )
        # and a row of the backup changed since: the restore puts its older content back
        conn.execute("UPDATE core_order SET status = 'refunded' WHERE id = 1")


def test_swap_keeps_the_whole_database_work_out_of_the_downtime(
    sandbox_reset: None, tmp_path: Path
) -> None:
    plant_framework_rows()
    before = state()
    with connect() as conn:  # the customers' emails before the restore drops the newest
        email = dict(conn.execute("SELECT id::text, email FROM core_customer").fetchall())
    labelled = swap_env(tmp_path, label_columns={"core_customer": "email"})
    done = run_feature(tmp_path, *INCIDENT, extra_env=labelled)
    assert done.outcome == "ROLLBACK COMPLETADO", dump(done)
    pasos, facts = done.pasos(), done.facts()
    assert pasos["4.0"] == pasos["5.4"] == "passed"
    # the app's database is the backup's content, under its name
    assert state().database == backup_fingerprints(facts["backup"]["path"])
    # the pre-rollback database is kept whole, and its dump (Paso 4.1's file) holds the same
    aside = facts["pre_rollback_backup"]["database"]
    assert aside in databases()
    assert fingerprints(aside) == before.database
    assert backup_fingerprints(facts["pre_rollback_backup"]["path"]) == before.database
    assert not any("_shadow_" in name for name in databases())
    # rows lost counted from the two databases, off the downtime; Paso 4.0 had said how many
    # before Etapa 2 (nothing wrote in between)
    lost = {t: n for t, n in facts["data_loss"]["tables"].items() if n}
    assert sum(lost.values()) > 0
    estimate = facts["restore_loss_estimate"]
    assert (estimate["tables"], estimate["when"]) == (lost, "Paso 4.0"), estimate
    # nothing between services stopped and the web service back reads the whole database
    heavy = [
        " ".join(e["argv"])[:120]
        for e in done.journal()
        if e["event"] == "command" and e.get("paso") in DOWNTIME and reads_whole_database(e)
    ]
    assert heavy == [], heavy
    # rows named by label: a configured column's value (core_customer.email), else the model's
    # own __str__ asked of the app (core_order)
    labels = facts["row_labels"]["tables"]
    assert labels["core_customer"] and all(
        email[k] == v for k, v in labels["core_customer"].items()
    )
    assert all(v.startswith("Order #") for v in labels["core_order"].values()), labels
    # the incident record says where the pre-rollback state is, and who drops it when
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    text = markdown.read_text()
    assert f"apartada en el Paso 4.3 como {aside}" in text
    assert f'DROP DATABASE "{aside}"' in text
    # the rows that are not user data, apart: the tables the target's own migrate fills on an
    # empty scratch database (created and dropped by Paso 7.1), the table the sandbox's
    # environment ignores (database.ignore_tables); §7.1 counts the user data only
    kinds = facts["row_kinds"]
    assert kinds["regenerated"] == ["auth_permission", "django_content_type"], kinds
    assert kinds["ignored"] == ["django_session"] and kinds["asked"].startswith("migrate de la ")
    assert not any("_kinds_" in name for name in databases())
    [asked] = [e for e in done.journal() if e["event"] == "intent" and e["paso"] == "7.1"]
    assert asked["declared"] and "shell" in asked["argv"], asked
    users = sum(lost.values()) - 3
    apart = (
        "aparte, filas que no son datos de usuario (§7.1 no las cuenta) — regeneradas por el "
        "migrate de la versión objetivo: auth_permission: 1, django_content_type: 1; "
        "ignoradas por configuración (database.ignore_tables): django_session: 1"
    )
    [criterion] = [x for x in text.splitlines() if x.startswith("| 0 pérdida de datos |")]
    assert criterion.startswith(f"| 0 pérdida de datos | {users} filas; {apart}; 1 filas cambiadas")
    assert criterion.endswith("| NO CUMPLE |"), criterion
    assert f"- Datos perdidos: SÍ — {users} filas del estado previo" in text
    assert f"; {apart}" in text.split("- Datos perdidos: ")[1].splitlines()[0]
    # the row changed since the backup, named before Etapa 2 (Paso 4.0), its older content put
    # back by the restore, the newer in the safety dump
    changed = facts["rows_changed"]
    assert changed["tables"] == {"core_order": 1} and changed["when"] == "Paso 4.0", changed
    assert (
        "1 filas cambiadas desde el backup volverían a su contenido del backup (core_order: 1;"
        " estimado en Paso 4.0)"
    ) in text  # the way back, as the plan and the record say it
    with connect() as conn:  # the restore put the backup's content back: the value named
        [status] = conn.execute("SELECT status FROM core_order WHERE id = 1").fetchone()
    assert changed["rows"]["core_order"]["1"]["status"] == [status, "refunded"], changed
    said = text.split("- Datos perdidos: ")[1].splitlines()[0]
    assert (
        "1 filas cambiadas desde el backup vuelven a su contenido del backup (estimado en "
        "Paso 4.0; clave: columna «backup» → «antes del rollback»: core_order: 1 — 1: status "
        f"«{status}» → «refunded»): la versión más nueva queda en "
    ) in said, said


def test_swap_failure_renames_the_pre_rollback_database_back(
    sandbox_reset: None, tmp_path: Path
) -> None:
    fault = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rollbook"), "sandbox", "fault", "smoke-test-fails"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    options = [word for word in fault.split() if word.startswith("--")]
    before = state()
    with connect("postgres") as conn:
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = 'iact_staging'").fetchone()
    done = run_feature(tmp_path, *INCIDENT, *options, extra_env=swap_env(tmp_path))
    assert done.outcome == "FALLIDO — ESTADO PREVIO RESTAURADO", dump(done)
    assert done.pasos()["6.2"] == "failed"
    assert state().restored_to(before), dump(done)
    with connect("postgres") as conn:
        assert (
            conn.execute("SELECT oid FROM pg_database WHERE datname = 'iact_staging'").fetchone()
            == oid
        )  # the very database, not a copy of it
    names = databases()
    assert not any("_shadow_" in name for name in names)
    assert any(name.startswith("iact_staging_failed_") for name in names)  # kept, not dropped


def test_trial_restore_predicts_etapa4_in_the_plan_and_changes_nothing(
    sandbox_reset: None, tmp_path: Path
) -> None:
    before, names = state(), databases()
    done = run_feature(
        tmp_path, *INCIDENT, "--dry-run", extra_env=swap_env(tmp_path, verify_by_restore=True)
    )
    trial = done.facts()["trial_restore"]
    assert trial["marker_rows"] > 0 and trial["bytes"] > 0 and trial["seconds"] > 0
    assert trial["predicted"]["paso_4_0"] == trial["seconds"]
    plan = (done.folder / "plan.md").read_text()
    assert "- Prueba de restauración: " in plan and "corre en el Paso 4.0" in plan
    # what restoring would lose, said before any change: the rows written after the nightly
    estimate = done.facts()["restore_loss_estimate"]
    assert estimate["rows"] > 0 and estimate["when"] == "Paso 1.3", estimate
    assert f"restaurar el backup perdería {estimate['rows']} filas (estimado en Paso 1.3" in plan
    # ... named by the app itself: each model's __str__ of the first rows, under their keys
    labels = done.facts()["row_labels"]
    assert labels["when"] == "Paso 1.3" and set(labels["tables"]) <= set(estimate["tables"])
    orders = labels["tables"]["core_order"]
    assert len(orders) == min(estimate["tables"]["core_order"], loss_statement.SHOWN), labels
    assert all(re.fullmatch(rf"Order #{key} \(\w+, [\d.]+\)", said) for key, said in orders.items())
    key, said = next(iter(orders.items()))
    named = plan.split("; entre ellas ", 1)[1].split("\n", 1)[0]
    assert f"core_order: {key} «{said}»" in named, plan
    assert json.loads((done.folder / "plan.json").read_text())["row_labels"] == labels
    # Paso 4.0's shadow is planned, not made; the scratch database is made and dropped
    assert any(
        s["paso"] == "4.0" for s in json.loads((done.folder / "plan.json").read_text())["commands"]
    )
    writes = [e for e in done.journal() if e["event"] == "intent" and e["paso"] != "lock"]
    assert writes and all(e["declared"] and e["paso"] == "1.3" for e in writes)
    assert state() == before and databases() == names


def custom_format_copy(nightly: Path) -> Path:
    """The nightly backup in pg_dump's custom format, beside it, with the same time."""
    copy = nightly.with_name(nightly.stem + "_custom.sql")  # format is read from the content
    scratch = "rollbook_e2e_custom"
    db = env().database
    with connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    login = ["-h", db.host, "-p", str(db.port), "-U", db.user, "-d", scratch]
    variables = {"PGPASSWORD": secret(env(), db.password_env), "PATH": "/usr/bin:/bin"}
    try:
        for argv in (
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *login, "-f", str(nightly)],
            ["pg_dump", "-Fc", *login, "-f", str(copy)],
        ):
            subprocess.run(argv, check=True, capture_output=True, env=variables)
    finally:
        with connect("postgres") as conn:
            conn.execute(f'DROP DATABASE "{scratch}"')
    stat = nightly.stat()
    os.utime(copy, (stat.st_atime, stat.st_mtime))
    return copy


def test_custom_format_backup_restores_in_parallel(sandbox_reset: None, tmp_path: Path) -> None:
    backup = custom_format_copy(newest_nightly())
    try:
        done = run_feature(
            tmp_path,
            *INCIDENT,
            "--dry-run",
            f"--backup={backup}",
            extra_env=swap_env(tmp_path, verify_by_restore=True),
        )
    finally:
        backup.unlink()
    trial = done.facts()["trial_restore"]
    assert trial["format"] == "custom" and trial["marker_rows"] > 0, dump(done)
    assert trial["jobs"] == os.cpu_count()  # pg_restore -j, default the db host's cores
    restore = next(
        e["argv"]
        for e in done.journal()
        if e["event"] == "command" and e["argv"][0] == "pg_restore" and "-d" in e["argv"]
    )
    assert restore[restore.index("-j") + 1] == str(os.cpu_count())
