"""Checks of an incident record: artifacts, signature, tamper evidence, redaction, channel,
and the report drawn by a real browser (headless Chromium)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

from rollbook import cli
from rollbook.core.config import secret
from rollbook.sandbox import instance
from tests.e2e.sandbox_state import ROOT, env

ARTIFACTS = {
    "report.html",
    "journal.jsonl",
    "rollback.log",
    "SHA256SUMS",
    "SHA256SUMS.sig",
    "SIGNER",
}
CHANNEL = instance.root(instance.current()) / "log" / "notifications.jsonl"
SCREENSHOTS = ROOT / "reports" / "screenshots"


def assert_complete_record(folder: Path) -> None:
    """Every artifact, in a folder only the operator can read."""
    names = {p.name for p in folder.iterdir()}
    assert names >= ARTIFACTS | {"timeline.svg"} and any(n.startswith("ROLLBACK-") for n in names)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert all(p.stat().st_mode & 0o077 == 0 for p in folder.iterdir())


def assert_signed(folder: Path) -> None:
    good = verify(folder)
    assert intact(good), good.stdout + good.stderr


def intact(verified: subprocess.CompletedProcess[str]) -> bool:
    """`rollbook verify` found the record signed, unchanged and this checkout's: all good, or
    only the people's sign-offs still to come (a record fresh from its run)."""
    return verified.returncode in (cli.VERIFY_GOOD, cli.VERIFY_INCOMPLETE) and (
        verified.stdout.startswith("Good: ")
    )


def verify(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rollbook"), "verify", str(folder), "--env", "sandbox"],
        capture_output=True,
        text=True,
        check=False,
    )


def channel_titles(since: int, path: str = "/incidents") -> list[str]:
    """Titles the receiver got at `path` (the incidents channel; /people/<who>: a person's)."""
    lines = CHANNEL.read_text().splitlines()[since:] if CHANNEL.exists() else []
    messages = [json.loads(line) for line in lines]
    return [m["message"]["title"] for m in messages if m["path"] == path]


def channel_size() -> int:
    return len(CHANNEL.read_text().splitlines()) if CHANNEL.exists() else 0


def assert_signed_and_tamper_evident(folder: Path, tmp_path: Path) -> None:
    assert_signed(folder)
    [markdown] = folder.glob("ROLLBACK-*.md")
    for name in ("report.html", markdown.name, "journal.jsonl"):
        copy = tmp_path / f"tampered-{name}"
        shutil.copytree(folder, copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / name).write_bytes(bytes(data))
        bad = verify(copy)
        assert bad.returncode != 0
        assert f"BAD: {name}: " in bad.stdout


def run_secrets() -> list[str]:
    """The sandbox run's secret values: the database password and the notification URLs."""
    return [secret(env(), env().database.password_env)] + [
        secret(env(), target.url_env) for target in env().notify
    ]


def assert_no_secret_anywhere(folder: Path, output: str) -> None:
    secrets = run_secrets()
    for path in folder.iterdir():
        data = path.read_bytes()
        for value in secrets:
            assert value.encode() not in data, f"a secret is in {path.name}"
    assert not any(value in output for value in secrets)


def drawn(report: Path, tmp_path: Path, keep_as: str) -> str:
    """Headless Chromium draws the report (its data is JSON drawn by JavaScript): its DOM, and a
    screenshot kept as reports/screenshots/KEEP_AS.png (CI's artifacts). Checked on every drawn
    report: the timeline picture has one bar per Paso that ran (the journal's paso_started) and
    one for §9 when it ran; no Python tuple or None is shown."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--virtual-time-budget=5000",
    ]
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = report.as_uri()
    dom = subprocess.run(
        ["chromium", *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    subprocess.run(
        [
            "chromium",
            *flags,
            f"--screenshot={tmp_path / 'report.png'}",
            "--window-size=1400,2400",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert (tmp_path / "report.png").stat().st_size > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "report.png", SCREENSHOTS / f"{keep_as}.png")
    events = [json.loads(line) for line in (report.parent / "journal.jsonl").open()]
    ran = {e["paso"] for e in events if e["event"] == "paso_started"} | (
        {"§9"} if any(e["event"] == "recovery_started" for e in events) else set()
    )  # and §9's own bar after the failure, when it ran
    picture = dom[dom.index('class="rollbook-timeline"') : dom.index("</svg>")]
    assert set(re.findall(r'data-paso="([^"]+)"', picture)) == ran, picture[:500]
    assert "(&#39;/" not in dom and "('/" not in dom, "a Python tuple is shown"
    assert ">None<" not in dom and "Skipped: " not in dom
    labels = (
        "<h2>Summary</h2>",
        "<h2>Environment</h2>",
        "Show all details",
        "Report generated on",
        ">Duration</th>",
        "No log output captured",
    )
    english = [label for label in labels if label in dom]
    assert english == [], f"pytest-html's English is shown: {english}"
    return dom


def browser_check(report: Path, tmp_path: Path, incident: str) -> None:
    dom = drawn(report, tmp_path, "completed")
    environment = dom[dom.index('id="environment"') :]
    assert incident in environment and "ROLLBACK COMPLETADO" in environment
    assert "test_paso_6_1_health_check" in dom  # the Paso rows are drawn
    assert re.search(r"Etapa 3: \d+\.\d s de 180 s", dom)  # each row's time against Anexo B
    assert "Criterios de Éxito" in dom
    assert 'id="paso-fallido"' not in dom
    assert re.search(r'class="rollbook-count">\d+ Pasos: \d+ pasados, 0 fallidos, ', dom)
    # what an auditor reads first, above the timeline: the final state, data lost, sign-offs
    first = dom[dom.index('class="rollbook-auditor"') : dom.index('class="rollbook-timeline"')]
    for label in ("Estado final", "Datos perdidos", "Downtime", "Aprobación", "Firmas requeridas"):
        assert f"<th>{label}</th>" in first, label
    assert "pendientes: tech_lead" in first and ">execute<" not in environment


def browser_check_failure_first(report: Path, tmp_path: Path, paso: str) -> None:
    """A failed run's report opens on the failed Paso: before the outcome and the Paso rows."""
    dom = drawn(report, tmp_path, "failed-and-recovered")
    first = dom.index('id="paso-fallido"')
    assert dom.index(f"Falló el Paso {paso}</h2>") > first
    assert first < dom.index("<h2>Resultado:") and first < dom.index('id="results-table"')
