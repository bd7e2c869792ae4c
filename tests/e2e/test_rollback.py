"""The whole procedure on the real sandbox: dry-run plan, success and its signed record, the
ledger, validation, then §9 by hand (failures: test_faults.py)."""

import hashlib
import json
import re
from pathlib import Path

import pytest

from rollbook.actions.dependencies import set_difference
from rollbook.record.outage_seen import seen_outage
from rollbook.record.plan import NOT_VERIFIED
from tests.e2e import compatibility, releases
from tests.e2e.cmdline_sampler import watching
from tests.e2e.record_checks import (
    assert_complete_record,
    assert_no_secret_anywhere,
    assert_signed,
    assert_signed_and_tamper_evident,
    browser_check,
    channel_size,
    channel_titles,
    drawn,
    run_secrets,
)
from tests.e2e.sandbox_state import (
    INCIDENT,
    Outcome,
    backup_fingerprints,
    damaged_files,
    dump,
    env,
    git,
    interpreters,
    pip_freeze,
    run_feature,
    served,
    since_boot,
    stale_processes,
    state,
)
from tests.e2e.test_etapa1 import newest_nightly
from tests.e2e.test_ledger import ledger_entries, ledger_file
from tests.e2e.test_read_only import VALIDATION, untouched
from tests.e2e.test_restore_strategies import DOWNTIME

pytestmark = pytest.mark.e2e

COMPLETED = "ROLLBACK COMPLETADO"
RESTORED = "FALLIDO — ESTADO PREVIO RESTAURADO"


def http_health() -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(env().health.url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def assert_restored(before: object, done: object) -> None:
    after = state()
    assert after.database == before.database, dump(done)
    assert after.head == before.head
    assert after.packages == before.packages
    assert after.services == before.services
    assert after.maintenance == before.maintenance


def planned_vs_done(plan: Outcome, real: Outcome, field: str = "argv") -> tuple[list, list]:
    """The dry-run's planned commands and the real run's mutating commands, comparable: their
    argument lists, or (`field="line"`) the exact lines, wrappers included (sudo, bounds,
    environment files)."""
    stamp = re.compile(r"pre_rollback_\d{8}_\d{6}")
    private = re.compile(r"INCIDENT\.[0-9a-f]+")  # a run's private folder: its id and a token

    def same(events: list[dict], kind: str) -> list:
        incident = next(e["incident"] for e in events if e["event"] == "run_started")
        words = (lambda e: e["argv"]) if field == "argv" else (lambda e: [e["line"]])
        return [
            (
                e["paso"],
                e["host"],
                [
                    private.sub(
                        "INCIDENT.PRIVATE",
                        stamp.sub("pre_rollback_TS", a).replace(incident, "INCIDENT"),
                    )
                    for a in words(e)
                ],
            )
            for e in events
            # the lock and the ledger are the tool's own, not the procedure's
            if e["event"] == kind
            and e["paso"] not in ("lock", "ledger")
            and (kind != "command" or e["mutating"])
        ]

    ran = "intent" if field == "argv" else "command"
    return same(plan.journal(), "planned"), same(real.journal(), ran)


def assert_new_venv_renamed_in(done: Outcome, packages: list[str]) -> None:
    """app.force_reinstall: new_venv (the default): Paso 3.4 built the target's venv while the
    app served, no pip ran in the downtime, Paso 3.2's one change was the rename; the venv that
    ran before is kept, whole, beside the app's; no script names the built folder and every file
    of the app's venv is what its wheel installed; what serves started after the rename, from
    the app's venv path."""
    journal, live = done.journal(), env().app.venv.rstrip("/")
    order = [e["paso"] for e in journal if e["event"] == "paso_started"]
    assert order.index("3.4") < order.index("2.2"), order
    in_downtime = [
        e["argv"]
        for e in journal
        if e["event"] == "command" and e["paso"] in DOWNTIME and "pip" in Path(e["argv"][0]).name
    ]
    assert not in_downtime, f"pip ran in the downtime: {in_downtime}"
    [renamed] = [
        e for e in journal if e["event"] == "command" and e["paso"] == "3.2" and e["mutating"]
    ]
    assert renamed["argv"][:2] == ["sh", "-c"], renamed
    aside = f"{live}.before-{done.folder.name}"
    assert pip_freeze(aside) == sorted(packages)
    assert not Path(f"{live}.rollbook-{done.folder.name}").exists()
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    assert f"el anterior queda en {aside}" in markdown.read_text()
    named = [
        p.name
        for p in Path(live, "bin").iterdir()
        if p.is_file() and b".rollbook-" in p.read_bytes()
    ]
    assert not named, f"scripts still naming the built folder: {named}"
    assert damaged_files(live) == {}
    assert not stale_processes(since_boot(renamed["end"]))
    programs = interpreters()
    assert programs and all(p.startswith(f"{live}/bin/") for p in programs.values()), programs
    assert "1.4.0" in served(), served()


def test_successful_rollback_then_rollback_of_rollback(sandbox_reset: None, tmp_path: Path) -> None:
    before = state()
    nightly = newest_nightly()
    stable = releases.deploy_tags()[1]
    # the dry-run plan first: it changes nothing ...
    untouched_before = untouched()
    plan = run_feature(tmp_path, *INCIDENT, "--dry-run")
    assert plan.code == 0, dump(plan)
    assert plan.outcome == "PLAN — SIN CAMBIOS"
    assert untouched() == untouched_before
    assert (plan.folder / "plan.md").is_file() and (plan.folder / "plan.json").is_file()
    # what a mutating Paso did cannot be checked when nothing ran: skipped, never passed
    unchecked = {
        e["paso"]: e["detail"]
        for e in plan.journal()
        if e["event"] == "paso_finished" and e["detail"].startswith(NOT_VERIFIED)
    }
    assert {"3.1", "4.3", "5.1"} <= set(unchecked) and all(
        plan.pasos()[paso] == "skipped" for paso in unchecked
    ), unchecked
    listed = (plan.folder / "plan.md").read_text()
    assert "- Paso 3.1: el código queda en la versión estable" in listed
    dom = drawn(plan.folder / "report.html", tmp_path / "plan-drawn", keep_as="dry-run")
    assert f"{NOT_VERIFIED}: el código queda en la versión estable" in dom
    assert 'id="paso-fallido"' not in dom
    assert "no aplica: un plan se aprueba (rollbook approve)" in dom  # a plan is not signed off
    channel = channel_size()
    with watching(run_secrets()) as seen:  # any local user polling /proc/*/cmdline every 20 ms
        done = run_feature(tmp_path, *INCIDENT)
    compatibility.record(
        "the sandbox: celery on redis, nginx and a maintenance page",
        done,
        "rollback (new venv)",
        COMPLETED,
    )
    assert done.code == 0, dump(done)
    assert seen.samples > 100 and seen.count == 0, seen.hits
    # ... and the real rollback from the same state runs exactly its commands, in that order
    planned, ran = planned_vs_done(plan, done)
    assert planned == ran
    # ... each exactly as plan.md shows it to the approver: the line run, wrappers included
    planned, ran = planned_vs_done(plan, done, field="line")
    assert planned == ran
    listed = (plan.folder / "plan.md").read_text()
    commands = json.loads((plan.folder / "plan.json").read_text())["commands"]
    assert commands and all(f": `{c['line']}`" in listed for c in commands)
    assert done.outcome == COMPLETED
    not_passed = {p: status for p, status in done.pasos().items() if status != "passed"}
    # the default way back (least_loss) reverses the sandbox's reversible migration at Paso 3.0:
    # no shadow database, no swap, no row recovery; Paso 3.4 builds the target's venv beside the
    # app's (app.force_reinstall: new_venv, the default: tests/e2e/test_new_venv.py)
    skipped = {"4.5": "skipped", "5.4": "skipped"}
    assert not_passed == skipped, dump(done)
    # Paso 4.0 took Paso 4.1's safety dump with the app serving, nobody writing; Paso 3.0 found
    # the cluster's transaction horizon unmoved after the stop and kept it: no dump in the downtime
    dumps = [
        e["paso"]
        for e in done.journal()
        if e["event"] == "command" and any(Path(a).name == "pg_dump" for a in e["argv"][:3])
    ]
    assert dumps == ["4.0"], dump(done)
    safety = done.facts()["pre_rollback_backup"]
    assert safety["current"] and safety["horizon"], safety
    assert "taken at Paso 4.0 with the app serving: no transaction has written since" in done.output
    assert done.output.rstrip().splitlines()[-1].count(COMPLETED) == 1  # printed last
    assert_new_venv_renamed_in(done, before.packages)
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    # the signed record and its log copied where the team's procedure keeps them (§6.1)
    incidents, logs = Path(str(env().incidents)), Path(str(env().logs.copy_to))
    assert (incidents / f"ROLLBACK-{done.folder.name}.md").read_bytes() == markdown.read_bytes()
    log = (done.folder / "rollback.log").read_bytes()
    assert (logs / f"rollback-{done.folder.name}.log").read_bytes() == log
    copied = {
        e["file"]: e for e in done.journal() if e["event"] == "record_copied"
    }  # journaled, signed
    assert copied[markdown.name]["path"] == str(incidents / f"ROLLBACK-{done.folder.name}.md")
    assert copied[markdown.name]["sha256"] == hashlib.sha256(markdown.read_bytes()).hexdigest()
    # health 200 at the stable tag, every row of the pre-rollback state kept, the rows written
    # after the nightly backup among them (restoring it would have lost them)
    assert http_health() == 200
    assert git("rev-parse", "HEAD") == git("rev-parse", f"{stable}^{{commit}}")
    facts = done.facts()
    assert facts["database_path"]["path"] == "migrate", facts["database_path"]
    assert facts["database_path"]["why"].startswith("database.rollback: least_loss (por defecto): ")
    after, backed_up = state().database, backup_fingerprints(str(nightly))
    rows = {t: (before.database[t]["rows"], after[t]["rows"]) for t in before.database}
    assert {t: n for t, n in rows.items() if n[0] != n[1] and t != "django_migrations"} == {}
    assert sum(after[t]["rows"] - backed_up[t]["rows"] for t in backed_up) > 0
    # the incident markdown: template sections, real timeline from the journal, data loss counted
    [markdown] = done.folder.glob("ROLLBACK-*.md")
    text = markdown.read_text()
    for section in ("## Versiones", "## Timeline", "## Impacto", "## Criterios de Éxito"):
        assert section in text
    assert "- Usuarios afectados (%): n/d (no declarado: --users-affected)" in text
    assert "- De guardia (§10.2, §12.4): Gonzalo Gil (on-call@sandbox.invalid)" in text
    assert "- Herramientas (§12.1, máquina del operador): git: git version " in text
    assert f"Versión restaurada: {stable}" in text
    stopped = next(e["ts"] for e in done.journal() if e.get("key") == "services_stopped")
    assert f"{stopped[11:19]} UTC - Servicios detenidos" in text
    # the database's line of the way it took: reversed, the backup verified but not restored
    assert " UTC - DB: migraciones de la versión desplegada revertidas (Paso 3.0)" in text
    assert "- Backup verificado (Paso 1.3), no restaurado: migraciones revertidas" in text
    # the probe asks the public endpoint through nginx: users get 200 again only once Paso 5.3
    # took the maintenance page away, after the app's own health check said 200 (Paso 5.1)
    events = done.journal()
    page_off = next(e["ts"] for e in events if e["event"] == "intent" and e["paso"] == "5.3")
    seen = seen_outage(events)
    assert seen is not None and seen["back"] is not None and seen["back"] > page_off, seen
    assert f"Visto por la sonda: {seen['seconds']:.0f} s sin 200; 200 de nuevo desde " in text
    assert sum(facts["data_loss"]["tables"].values()) == 0, facts["data_loss"]
    assert "| 0 pérdida de datos | 0 filas | CUMPLE |" in text and "- Datos perdidos: NO" in text
    assert "least_loss (por defecto)" in text  # the path taken, and why
    # the sign-offs still needed, in the markdown too: each role's duty (§3.1), how, by when
    [signatures] = [line for line in text.splitlines() if line.startswith("- Firmas requeridas: ")]
    assert "tech_lead (" in signatures and "Validar rollback (A)" in signatures, signatures
    assert " --role ROL --key CLAVE — antes del " in signatures, signatures
    assert Path(facts["pre_rollback_backup"]["path"]).stat().st_size > 0
    # §8.1's log window (Paso 6.5) as judged: since the restart, not the document's 5 minutes,
    # which hold the defective release's errors (Paso 1.1's requests to its failing health)
    logs = facts["recent_log_errors"]
    assert logs["seconds"] < logs["asked"] == 300 and logs["before_start"] > 0, logs
    assert f"no los 300 s del documento: antes, {logs['before_start']} líneas de error" in text
    # ... and, under the root cause, the defective release's first error lines as Paso 1.1 read
    # them before any change (since its services started), as evidence for whoever writes it
    seen = facts["symptoms_observed"]["log_errors"]
    assert "- Evidencia: primeras líneas de error en los logs de la versión en marcha" in text
    assert seen["lines"] and all(line[:60] in text for line in seen["lines"]), seen
    assert seen["window"] < seen["asked"] == 300, seen  # since the services' start at the reset
    # ... which also date the incident's impact: from that first error to the first health 200
    first = seen["first"][11:19]
    assert f"desde el primer error en los logs ({first} UTC, Paso 1.1) hasta el primer" in text
    # the signed incident record: complete, private, tamper-evident, without secrets, announced
    assert_complete_record(done.folder)
    assert_signed_and_tamper_evident(done.folder, tmp_path)
    assert_no_secret_anywhere(done.folder, done.output)
    titles = channel_titles(channel)
    assert titles[0].startswith("ROLLBACK INICIADO - SANDBOX")
    assert titles[1].startswith("ROLLBACK COMPLETADO - SANDBOX")
    assert len(titles) == 2
    # §7.3: the Product Owner is told, on their own channel
    assert channel_titles(channel, "/people/product-owner") == [f"{titles[1]} — para Pablo Pérez"]
    # ... so §7.3's follow-up is done by the run, with its evidence, not left pending
    [told] = [i for i in facts["follow_ups"]["items"] if i["action"] == "Notificar a Product Owner"]
    assert told["done"].startswith("hecho: el aviso de fin del Paso 7.2 llegó a Pablo Pérez"), told
    assert "- [x] Notificar a Product Owner — " in text
    # §11.1: the stakeholders told at the start, each on their own channel; nobody escalated to
    for path, who in (
        ("tech-lead", "Tomás Torres"),
        ("incident-manager", "Irene Ibáñez"),
        ("on-call", "Gonzalo Gil"),
    ):
        assert channel_titles(channel, f"/people/{path}") == [f"{titles[0]} — para {who}"], path
    assert channel_titles(channel, "/people/dba") == []
    browser_check(done.folder / "report.html", tmp_path, done.folder.name)
    # the ledger: target chosen as the last validated release, its exact package set installed —
    # sqlparse stays at 0.5.3 although the mirror holds 0.6.1 (resolving again would move it)
    [recorded] = ledger_entries()[:1]
    assert facts["target"]["reason"].startswith("última versión validada")
    # a record taken before `pip freeze --all` (a sandbox provisioned earlier) holds no pip or
    # setuptools: compared the engine's way, without them
    assert set_difference(state().packages, recorded["packages"]) == ([], [])
    assert "sqlparse==0.5.3" in recorded["packages"]
    assert "pip freeze --all igual al registro de versiones" in str(facts["package_set"])
    assert facts["migrations_vs_ledger"]["result"].startswith("as recorded")
    left, restored = ledger_entries()[1:]
    assert (left["tag"], left["status"], left["incident"]) == (
        releases.deploy_tags()[0],
        "rolled_back_from",
        done.folder.name,
    )
    assert (restored["tag"], restored["status"]) == (stable, "validated")
    assert set_difference(restored["packages"], recorded["packages"]) == ([], [])
    # validation passes at the restored release; with --record-release, the ledger append is
    # that run's only write, declared
    after = untouched()
    check = run_feature(tmp_path, "--env=sandbox", "--record-release", feature=VALIDATION)
    assert check.code == 0, dump(check)
    assert check.outcome == "VERIFICACION OK — SIN CAMBIOS"
    assert untouched() == after  # the ledger lives beside the app, not in it
    writes = [e for e in check.journal() if e["event"] == "intent"]
    assert writes and all(e["declared"] and e["paso"] == "ledger" for e in writes)
    assert ledger_entries()[-1]["evidence"] == f"validation run {check.folder.name}"
    kept = ledger_file().read_text()
    # §9 by hand: back to the pre-rollback state recorded by that journal
    with watching(run_secrets()) as seen:
        again = run_feature(
            tmp_path,
            "--env=sandbox",
            f"--incident={done.folder.name}",
            "--operator=e2e",
            feature="features/rollback_of_rollback.feature",
        )
    assert again.code == 0, dump(again)
    assert seen.samples > 50 and seen.count == 0, seen.hits
    # every run wrote its pgpass file on the database host and removed its folder when it closed
    written = [
        e["path"] for r in (done, check, again) for e in r.journal() if e["event"] == "private_file"
    ]
    assert written and not [p for p in written if Path(p).parent.exists()], written
    assert again.outcome == "ESTADO PREVIO RESTAURADO"
    assert_restored(before, again)
    assert ledger_file().read_text() == kept  # §9 leaves the ledger alone
    # its record names the incident it undid, with that incident's facts, and seals its journal
    [undone] = again.folder.glob("ROLLBACK-*.md")
    said = undone.read_text()
    assert f"- Incidente revertido: {done.folder.name}" in said and "- Severidad: CRITICO" in said
    assert f"- Versión en ejecución: {releases.deploy_tags()[0]} (" in said
    assert "None" not in said, [line for line in said.splitlines() if "None" in line]
    sealed = [e for e in again.journal() if e["event"] == "journal_sealed"]
    assert [e["incident"] for e in sealed] == [done.folder.name]
    assert_signed(done.folder)  # the undone incident's record, untouched by §9
