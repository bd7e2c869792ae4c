"""Etapa 1 on the real sandbox: the right target and backup; bad backups stop, nothing changed."""

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollbook import sandbox
from rollbook.actions import symptoms
from rollbook.core.config import secret
from rollbook.sandbox.layout import load_layout
from tests.e2e.releases import deploy_tags
from tests.e2e.sandbox_state import INCIDENT, Outcome, connect, dump, env, run_feature, state

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def start(sandbox_up: None) -> object:
    sandbox.reset()
    return state()


def settings_shells(done: Outcome) -> list[dict]:
    """Paso 1.2's `manage.py shell` that read the app's settings (app_database)."""
    return [
        e
        for e in done.journal()
        if e["event"] == "command"
        and e["paso"] == "1.2"
        and "shell" in e["argv"]
        and any("rollbook-db" in a for a in e["argv"])
    ]


def applied_by_hand() -> list[str]:
    """`manage.py showmigrations --plan` run by hand in the deployed checkout: its [X] lines."""
    app = env().app
    out = subprocess.run(
        [f"{app.venv}/bin/python", app.manage, "showmigrations", "--plan"],
        cwd=app.path,
        env={**os.environ, **app.env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip().startswith("[X]")]


def newest_nightly(environment: str = "sandbox") -> Path:
    database = env(environment).database
    backups = Path(database.backups)
    return max(backups.glob(database.backup_pattern), key=lambda p: p.stat().st_mtime)


def test_chooses_the_stable_tag_and_the_nightly_backup(start: object, tmp_path: Path) -> None:
    done = run_feature(tmp_path, *INCIDENT, "-m", "etapa1")
    assert done.code == 0, dump(done)
    facts = done.facts()
    tags = deploy_tags()
    assert facts["deployed"]["tag"] == tags[0]
    # deployed an hour before the reset (the sandbox's timeline), as its checkout's reflog says
    deployed = facts["deployed"]
    assert deployed["deployed_at_from"].startswith("the deploy checkout's reflog")
    assert 0 < time.time() - 3600 - deployed["deployed_at"] < 900, deployed
    assert facts["target"]["tag"] == tags[1]
    # the applied migrations were listed by the Python start that read the app's settings, as
    # `manage.py showmigrations --plan` itself lists them: no second start for it
    shells = settings_shells(done)
    assert len(shells) == 1 and "\nrollbook-plan " in shells[0]["stdout"], shells
    assert facts["applied_migrations"]["applied"] == applied_by_hand()
    assert not [
        e
        for e in done.journal()
        if e["event"] == "command" and e["paso"] == "1.2" and "showmigrations" in e["argv"]
    ]
    # the defective release's one migration reverses: a code-only rollback would also do
    plan = facts["migration_plan"]
    assert plan["kind"] == "reversible", plan
    assert plan["extra"] == ["core.0002_customer_full_name_tier"]
    assert plan["commands"] == ["python manage.py migrate core 0001_initial"]
    # read from Django's own plan: the rename and the indexes touch no value; undoing AddField
    # drops the column only the defective release has
    effects = {o["operation"]: o["effect"] for o in plan["operations"]}
    assert effects["Add field tier to customer"] == "drops"
    assert effects["Rename field name on customer to full_name"] == "schema"
    # the default (least_loss) reverses the migration: no row written since the backup is lost
    assert facts["database_path"]["path"] == "migrate", facts["database_path"]
    assert facts["database_path"]["why"].startswith("database.rollback: least_loss (por defecto)")
    with connect() as conn:
        customers = conn.execute("SELECT count(*) FROM core_customer").fetchone()[0]  # type: ignore[index]
    assert facts["database_path"]["drops"] == {"core_customer.tier": customers}
    assert facts["backup"]["path"] == str(newest_nightly())
    # Paso 1.1 observed what the operator declares: the defective release's own health check
    # answers as this test sees it (500 on the sandbox: the service is down by its own word)
    observed, url = facts["symptoms_observed"], env().health.url
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            seen = answer.status
    except urllib.error.HTTPError as exc:
        seen = exc.code
    assert observed["urls"][f"local:// {url}"] == seen == 500, observed
    assert symptoms.DOWN in observed["criteria_met"] and observed["contradiction"] is None
    assert observed["database"] == "responde"
    # ... and the error lines the app's logs are stamped with over the last minutes: the
    # defective release's 500s, the first of them found here in its file as the test reads it
    logged = observed["log_errors"]
    assert 1 <= logged["per_minute"] <= logged["in_window"], logged
    assert symptoms.LOG_RATE not in observed["criteria_met"] and logged["per_minute"] <= 100
    where, said = logged["lines"][0].split(" ", 1)[1].split(": ", 1)
    assert where in env().logs.files and said in Path(where).read_text(), logged
    assert f"; {logged['per_minute']} errors in the logs over the last minute" in done.output
    # Anexo C's last question answered by Paso 1.3, not assumed by Paso 1.1
    assert facts["decision_tree"]["backup"] == f"válido: {newest_nightly()} (Paso 1.3)"
    assert f"target: {tags[1]}" in done.output and str(newest_nightly()) in done.output
    assert done.outcome == "EVALUACION COMPLETADA — SIN CAMBIOS"
    assert state() == start


def _bad_backup(kind: str, folder: Path) -> str:
    nightly = newest_nightly()
    if kind == "missing":
        return str(folder / "iact_staging_19990101_0000.sql")
    path = folder / f"iact_staging_e2e_{kind}.sql"
    if kind == "empty":
        path.write_bytes(b"")
    else:  # truncated: pg_dump's completion trailer is cut off
        data = nightly.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return str(path)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("truncated", "is truncated"),
    ],
)
def test_bad_backup_aborts_with_nothing_changed(
    start: object, tmp_path: Path, kind: str, message: str
) -> None:
    folder = Path(env().database.backups)
    backup = _bad_backup(kind, folder)
    try:
        before = state()
        done = run_feature(tmp_path, *INCIDENT, f"--backup={backup}")
        assert done.code != 0
        assert done.outcome == "ABORTADO — SIN CAMBIOS", dump(done)
        assert done.pasos()["1.3"] == "failed"
        assert done.pasos()["2.1"] == "skipped"
        assert "no ejecutado: falló Paso 1.3" in done.output or "falló Paso 1.3" in str(
            done.journal()
        )
        assert message in done.output and "Escalate to the Tech Lead" in done.output
        assert "features/rollback.feature:" in done.output  # the failure points at the feature line
        assert not [e for e in done.journal() if e["event"] == "intent" and e["paso"] != "lock"]
        assert state() == before
        # its record says what the journal shows: nothing restored, no rollback completed
        [markdown] = done.folder.glob("ROLLBACK-*.md")
        text = markdown.read_text()
        deployed = done.facts()["deployed"]["tag"]
        assert f"- Versión en ejecución: {deployed} (" in text and "(sin cambios)" in text
        assert "Versión restaurada" not in text
        [completed] = [
            line
            for line in text.splitlines()
            if line.startswith("| Rollback completado en < 15 minutos |")
        ]
        assert "no se cambió nada" in completed and "| CUMPLE |" not in completed, completed
    finally:
        if kind in ("empty", "truncated"):
            os.unlink(backup)


def test_a_named_backup_over_the_age_limit_is_taken_with_the_reason_recorded(
    start: object, tmp_path: Path
) -> None:
    """§9.2: the oldest backup known to be stable, when the operator names it."""
    folder = Path(env().database.backups)
    oldest = min(folder.glob(env().database.backup_pattern), key=lambda p: p.stat().st_mtime)
    done = run_feature(tmp_path, *INCIDENT, f"--backup={oldest}", "-m", "etapa1")
    assert done.code == 0, dump(done)
    backup = done.facts()["backup"]
    assert backup["path"] == str(oldest)
    assert "over the environment's limit" in backup["over_age"]
    assert "accepted because --backup names it (§9.2)" in backup["over_age"]
    assert f"WARNING: the backup {oldest} is" in done.output
    assert state() == start


@pytest.fixture
def foreign_backup() -> Iterator[tuple[Path, Path]]:
    """A real pg_dump of another Django application's database (its own apps' migrations), named
    like the nightly backups and one minute newer than the newest of them: the one Paso 1.3 picks
    first by date."""
    db, name = env().database, "e2e_other_django_app"
    with connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    with connect(name) as conn:
        conn.execute(
            "CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), "
            "name varchar(255), applied timestamptz DEFAULT now())"
        )
        for app, migration in (
            ("contenttypes", "0001_initial"),
            ("auth", "0001_initial"),
            ("blog", "0001_initial"),
            ("blog", "0002_post_slug"),
        ):
            conn.execute(
                "INSERT INTO django_migrations (app, name) VALUES (%s, %s)", (app, migration)
            )
    nightly = newest_nightly()
    path = nightly.with_name(nightly.name.replace(".sql", "9.sql"))  # same pattern, other name
    try:
        subprocess.run(
            ["pg_dump", "-h", db.host, "-p", str(db.port), "-U", db.user, "-d", name, "-f", path],
            check=True,
            capture_output=True,
            env={**os.environ, "PGPASSWORD": secret(env(), db.password_env)},
        )
        moment = nightly.stat().st_mtime + 60
        os.utime(path, (moment, moment))
        yield path, nightly
    finally:
        path.unlink(missing_ok=True)
        with connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_a_foreign_backup_is_refused_and_the_next_older_one_taken(
    start: object, tmp_path: Path, foreign_backup: tuple[Path, Path]
) -> None:
    foreign, nightly = foreign_backup
    done = run_feature(tmp_path, *INCIDENT, "-m", "etapa1")
    assert done.code == 0, dump(done)
    backup = done.facts()["backup"]
    [refused] = backup["refused"]
    assert refused.startswith(f"the backup {foreign} is not a backup of this application")
    assert "migrations of the ledger's record of" in refused
    assert "does not (blog.0001_initial, blog.0002_post_slug)" in refused
    assert backup["path"] == str(nightly)
    assert backup["identity"].startswith("its django_migrations matches the ledger's record of")
    assert f"{refused} — refused; the next older backup is tried" in done.output
    # named with --backup, the same file stops the run at Paso 1.3 with nothing changed
    before = state()
    named = run_feature(tmp_path, *INCIDENT, f"--backup={foreign}")
    assert named.outcome == "ABORTADO — SIN CAMBIOS", dump(named)
    assert named.pasos()["1.3"] == "failed", dump(named)
    assert "is not a backup of this application" in named.output
    assert state() == before


def test_an_app_pointing_at_another_database_is_refused_before_any_change(
    start: object, tmp_path: Path
) -> None:
    """The app's own settings (its .env) name another database: refused in Paso 1.2, before any
    manage.py command could touch either database, and no file appears in the checkout."""
    app_env = load_layout().app_env_file
    original = app_env.read_text()
    url = next(line for line in original.splitlines() if line.startswith("DATABASE_URL="))
    app_env.write_text(original + url.replace(f"/{env().database.name}", "/iact_other") + "\n")
    files = subprocess.run(
        ["git", "-C", env().app.path, "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    try:
        done = run_feature(tmp_path, *INCIDENT)
    finally:
        app_env.write_text(original)
    assert done.outcome == "ABORTADO — SIN CAMBIOS", dump(done)
    assert done.pasos()["1.2"] == "failed"
    said = [e["detail"] for e in done.journal() if e["event"] == "paso_finished"]
    assert any("database iact_other, not iact_staging" in d for d in said), said
    # the Python start that read those settings listed no migration: it never connected
    shells = settings_shells(done)
    assert shells and not any("rollbook-plan" in e["stdout"] for e in shells), shells
    assert state() == start
    after = subprocess.run(
        ["git", "-C", env().app.path, "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert after == files
