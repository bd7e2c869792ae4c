"""The data-loss statement per table (markdown and report.html), and Paso 4.5's column mapping."""

from pathlib import Path

import pytest

from rollbook.actions.database import UNKEYED, having_keys, loss_statement
from rollbook.actions.database.row_recovery import absent_table, lost, source_columns
from rollbook.core.state import RowKinds, RowLabels, RowsChanged, SafetyDump
from rollbook.record import closing, data_statement
from tests.unit.local_run import local_run

RECOVERED = {
    "rows_recovered": {
        "salvage": "/r/salvage.sql",
        "source": "rollbook_pre",
        "tables": {
            "core_order": {
                "rows_before": 413,
                "dropped": 13,
                "recovered": 12,
                "conflicts": 1,
                "not_recovered": {"not recovered: parent row missing": 1},
                "columns_absent": [],
                "columns_renamed": {},
                "kept": 2,
            },
        },
    },
}


def test_after_paso_4_5_each_table_says_what_came_back_and_why_not() -> None:
    [row] = data_statement.rows(RECOVERED)
    # 13 absent, 12 back: 1 lost; the conflict is a changed row, not a lost one
    assert row[:6] == ("core_order", "413", "13", "12", "1", "1")
    assert row[6].startswith("not recovered: parent row missing: 1; conflicto (misma clave, otro ")
    assert row[6].endswith("una persona decide): 1")
    text = "\n".join(data_statement.markdown(RECOVERED))
    assert "| core_order | 413 | 13 | 12 | 1 | 1 |" in text
    assert "- Archivo de rescate (para un DBA): /r/salvage.sql" in text
    assert "<td>core_order</td><td>413</td>" in data_statement.html(RECOVERED)


def test_a_conflict_is_named_by_key_with_each_changed_column_backup_then_newer() -> None:
    """The first conflicts, as Paso 4.5 described them: the backup's value (the row keeps it)
    → the pre-rollback one (in the salvage file); "…" when more conflicts than described."""
    entry = RECOVERED["rows_recovered"]["tables"]["core_order"] | {
        "conflicts": 2,
        "changed": {"17": {"status": ["paid", "refunded"], "amount": ["1", "2"]}},
    }
    facts = {"rows_recovered": {**RECOVERED["rows_recovered"], "tables": {"core_order": entry}}}
    [row] = data_statement.rows(facts)
    assert row[6].endswith(
        "una persona decide): 2 — clave: columna «backup» → «antes del rollback»: "
        "17: status «paid» → «refunded», amount «1» → «2» …"
    ), row[6]


def test_a_plain_restore_lists_the_tables_that_lost_rows_and_nothing_else() -> None:
    facts = {
        "data_loss": {"tables": {"core_order": 10, "auth_user": 0}},
        "pre_rollback_backup": {"path": "/b/p.sql", "tables": {"core_order": {"rows": 410}}},
    }
    assert data_statement.rows(facts) == [
        ("core_order", "410", "10", "-", "-", "10", "no está en el backup restaurado")
    ]
    assert data_statement.rows({"data_loss": {"tables": {"core_order": 0}}}) == []
    assert data_statement.html({}) == "" and data_statement.markdown({}) == []


def test_renamed_columns_are_followed_to_the_name_the_rows_have() -> None:
    wanted = {"id": False, "name": True, "email": True, "legacy": False}
    had = {"id": False, "display_name": True, "email": True, "tier": True}
    # undone: name → full_name, then full_name → display_name; `legacy` is nowhere
    renamed = {"name": "full_name", "full_name": "display_name"}
    assert source_columns(wanted, had, renamed) == {
        "id": "id",
        "name": "display_name",
        "email": "email",
    }
    assert source_columns({"a": True}, {"b": True}, {"a": "b", "b": "a"}) == {"a": "b"}


def test_a_table_only_the_deployed_release_had_is_lost_whole_and_said_so() -> None:
    facts = {
        "rows_recovered": {
            "salvage": None,
            "tables": {"core_invoice": absent_table(7)},
            "source": "rollbook_pre",
        }
    }
    [row] = data_statement.rows(facts)
    assert row == (
        "core_invoice",
        "7",
        "7",
        "0",
        "0",
        "7",
        "not recovered: table absent in the restored schema: 7",
    )
    assert lost(absent_table(0)) == 0 and absent_table(0)["not_recovered"] == {}


def test_rows_lost_are_named_by_key_and_every_key_is_listed_beside_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(tmp_path, monkeypatch)
    orders = list(range(201, 201 + loss_statement.SHOWN + 2))
    lost = {
        "core_order": orders,
        "core_tag": ['"vip"'],
        "audit_note": [UNKEYED + "12"],
        "auth_user": [],
    }
    loss_statement.note(run.incident, run.records, lost)
    facts = run.incident.journal.facts()
    fact = facts["data_loss"]
    assert fact["tables"] == {"core_order": 12, "core_tag": 1, "audit_note": 1, "auth_user": 0}
    assert fact["keys"]["core_order"] == [str(k) for k in orders[: loss_statement.SHOWN]]
    assert (
        fact["keys"]["audit_note"] == [loss_statement.UNNAMED] and "auth_user" not in fact["keys"]
    )
    listed = Path(fact["listed"])
    assert listed.parent == run.incident.folder and listed.stat().st_mode & 0o777 == 0o600
    lines = listed.read_text().splitlines()
    assert lines[0] == "tabla\tclave\tetiqueta" and len(lines) == 1 + 12 + 1 + 1
    assert "core_order\t212\t" in lines and 'core_tag\t"vip"\t' in lines
    # the record: the first keys of each table, "…" where there are more, and where the rest are
    said = closing.data_loss_text(facts, run.incident.journal.events())
    assert said.startswith("SÍ — 14 filas del estado previo no presentes tras la restauración: ")
    assert "core_order: 12 (claves 201, 202, 203, 204, 205, 206, 207, 208, 209, 210 …)" in said
    assert 'core_tag: 1 (claves "vip")' in said
    assert f"todas las claves en {loss_statement.LIST_FILE}, junto a este registro" in said
    [row] = [r for r in data_statement.rows(facts) if r[0] == "core_tag"]
    assert row[-1] == 'no está en el backup restaurado; claves: "vip"'


def test_a_row_the_app_labelled_is_named_by_key_and_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The labels asked before any change (RowLabels) name the rows the restore lost: in the
    fact, the record and the list file; a row without one is named by key alone."""
    run = local_run(tmp_path, monkeypatch)
    labels = RowLabels(
        {"core_order": {"201": "Order #201 (paid, 120.00)"}, "core_tag": {'"vip"': "VIP"}},
        "Paso 1.3",
    )
    run.records.keep(labels)
    lost: dict[str, list[int | str]] = {"core_order": [201, 202], "core_tag": ['"vip"']}
    loss_statement.note(run.incident, run.records, lost)
    facts = run.incident.journal.facts()
    assert facts["data_loss"]["keys"] == {"core_order": ["201", "202"], "core_tag": ['"vip"']}
    said = closing.data_loss_text(facts, run.incident.journal.events())
    assert "core_order: 2 (claves 201 «Order #201 (paid, 120.00)», 202)" in said, said
    lines = Path(facts["data_loss"]["listed"]).read_text().splitlines()
    assert lines[1:] == [
        "core_order\t201\tOrder #201 (paid, 120.00)",
        "core_order\t202\t",
        'core_tag\t"vip"\tVIP',
    ]


def test_nothing_lost_writes_no_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = local_run(tmp_path, monkeypatch)
    loss_statement.note(run.incident, run.records, {"core_order": []})
    assert run.incident.journal.facts()["data_loss"]["listed"] is None
    assert not (run.incident.folder / loss_statement.LIST_FILE).exists()


def test_rows_that_are_not_user_data_are_listed_apart_and_not_counted_by_7_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RowKinds (Paso 7.1): the tables the target's migrate fills and those the environment
    ignores lose rows apart; §7.1's criterion and "Datos perdidos" count the user data only."""
    run = local_run(tmp_path, monkeypatch)
    lost: dict[str, list[int | str]] = {
        "django_content_type": [9],
        "auth_permission": [33, 34],
        "django_session": ['"k1"'],
    }
    loss_statement.note(run.incident, run.records, lost)
    run.records.keep(RowKinds(["auth_permission", "django_content_type"], ["django_session"], "x"))
    facts, events = run.incident.journal.facts(), run.incident.journal.events()
    said = closing.data_loss_text(facts, events)
    assert said.startswith(
        "NO; aparte, filas que no son datos de usuario (§7.1 no las cuenta) — "
        "regeneradas por el migrate de la versión objetivo: auth_permission: "
        "2, django_content_type: 1; ignoradas por configuración "
        "(database.ignore_tables): django_session: 1"
    ), said
    value, met = {n: (v, ok) for n, v, ok in closing.criteria(events)}["0 pérdida de datos"]
    assert value.startswith("0 filas; aparte, filas que no son datos de usuario") and met is True
    [row] = [r for r in data_statement.rows(facts) if r[0] == "django_session"]
    assert row[-1].endswith("; " + data_statement.IGNORED)
    # a user table's rows still count, and are still named first
    lost["core_order"] = [201]
    loss_statement.note(run.incident, run.records, lost)
    facts, events = run.incident.journal.facts(), run.incident.journal.events()
    said = closing.data_loss_text(facts, events)
    assert said.startswith(
        "SÍ — 1 filas del estado previo no presentes tras la restauración: "
        "core_order: 1 (claves 201); todas las claves en"
    ), said
    value, met = {n: (v, ok) for n, v, ok in closing.criteria(events)}["0 pérdida de datos"]
    assert value.startswith("1 filas; aparte") and met is False


def test_rows_a_plain_restore_put_back_to_older_content_are_named_and_a_person_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RowsChanged (estimated before Etapa 2): with no row lost, §7.1 is for a person to decide,
    as for Paso 4.5's conflicts; the rows are named, backup's value → the newer one, and where the
    newer is kept."""
    run = local_run(tmp_path, monkeypatch)
    loss_statement.note(run.incident, run.records, {"core_order": []})
    run.records.keep(
        RowsChanged(
            {"core_order": 12}, {"core_order": {"1": {"status": ["paid", "refunded"]}}}, "Paso 4.0"
        )
    )
    run.records.keep(SafetyDump("/b/pre.sql"))
    facts, events = run.incident.journal.facts(), run.incident.journal.events()
    said = (
        "12 filas cambiadas desde el backup vuelven a su contenido del backup (estimado en "
        "Paso 4.0; clave: columna «backup» → «antes del rollback»: core_order: 12 — 1: status "
        "«paid» → «refunded» …): la versión más nueva queda en /b/pre.sql, una persona decide "
        "cuál queda"
    )
    assert closing.data_loss_text(facts, events) == f"NO; {said}"
    value, met = {n: (v, ok) for n, v, ok in closing.criteria(events)}["0 pérdida de datos"]
    assert (value, met) == (f"0 filas perdidas; {said}", closing.DECIDE)
    # after Paso 4.5 the conflicts are its own: the estimate is not repeated
    loss_statement.note(run.incident, run.records, {"core_order": []}, recovered=True)
    assert "cambiadas desde el backup" not in closing.data_loss_text(
        run.incident.journal.facts(), run.incident.journal.events()
    )


def test_rows_changed_with_the_loss_not_counted_leave_the_criterion_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed incident's loss is not counted (Paso 4.1 ran before): the changed rows estimated
    before Etapa 2 do not make §7.1 say "0 filas perdidas"."""
    run = local_run(tmp_path, monkeypatch)
    run.records.keep(RowsChanged({"core_order": 1}, {}, "Paso 4.0"))
    loss_statement.note(run.incident, run.records, None, None)
    value, met = {n: (v, ok) for n, v, ok in closing.criteria(run.incident.journal.events())}[
        "0 pérdida de datos"
    ]
    assert value.startswith("n/d; 1 filas cambiadas desde el backup") and met is None, value


def test_rows_are_chosen_by_their_keys_value_where_the_key_is_one_column() -> None:
    """database.having_keys: one column by its value (its index finds it), several by the key's
    text as the record names it."""
    assert having_keys(["id"], ["7", "12345678901234567890"]) == (
        "x.\"id\" IN ('7', '12345678901234567890')"
    )
    assert having_keys(["code"], ['"o\'k"']) == "x.\"code\" IN ('o''k')"
    assert having_keys(["a", "b"], ["[1, 2]"]) == (
        'json_build_array(x."a", x."b")::text = \'[1, 2]\''
    )
