"""Which code ran, file by file, and `rollbook verify`'s exit codes on a signed record: the
real checkout's files hashed, the real ssh-keygen signing (tests/unit/test_signing.py's keys)."""

import json
from pathlib import Path

from rollbook import cli
from rollbook.core.config import load_environment
from rollbook.governance import provenance
from rollbook.governance.signing import sign_folder
from tests.unit.test_signing import IDENTITY, NAMESPACE, make_key, write_allowed_signers

FEATURE = provenance.ROOT / "features" / "rollback.feature"


def fact() -> dict:
    return provenance.collect([FEATURE], load_environment("staging"))


def test_every_file_that_runs_or_says_what_runs_is_hashed() -> None:
    files = fact()["files"]
    tops = {Path(name).parts[0] for name in files}
    assert tops == {"rollbook", "steps", "features", "conftest.py", "procedures"}
    assert "procedures/PROCED-BACK-003.md" in files and "steps/services.py" in files
    assert not any("__pycache__" in name for name in files)
    assert fact()["rollbook"]["code_sha256"] == provenance.code_sha256()


def test_differences_name_each_file_changed_gone_or_added() -> None:
    made = fact()
    assert provenance.differences(made) == []
    files = made["files"]
    files["steps/services.py"] = "0" * 64  # the run's step differs from the checkout's
    files["steps/gone.py"] = "1" * 64  # the run had it, the checkout does not
    del files["procedures/PROCED-BACK-003.md"]  # the checkout has it, the run did not
    said = provenance.differences(made)
    assert [line.split(":")[0] for line in said] == [
        "procedures/PROCED-BACK-003.md",
        "steps/gone.py",
        "steps/services.py",
    ]
    assert "not in the code that ran" in said[0] and "not in this checkout" in said[1]
    assert "differs from this checkout's" in said[2]


def test_an_older_record_without_per_file_hashes_says_the_code_differs() -> None:
    made = fact()
    del made["files"]
    assert provenance.differences(made) == []
    made["rollbook"]["code_sha256"] = "2" * 64
    [said] = provenance.differences(made)
    assert said.startswith("rollbook's code: differs") and "not named" in said


def signed_record(folder: Path, made: dict) -> tuple[Path, Path]:
    """A record whose journal holds `made`, signed; and the allowed signers that trust it."""
    record, keys = folder / "2026-12-06-0400-staging", folder / "keys"
    record.mkdir(mode=0o700, parents=True)
    keys.mkdir()
    event = {"event": "fact", "key": "provenance", "value": made}
    (record / "journal.jsonl").write_text(json.dumps(event) + "\n")
    key = make_key(keys)
    sign_folder(record, str(key), IDENTITY, NAMESPACE)
    return record, write_allowed_signers(keys / "allowed_signers", key)


def verified(folder: Path, made: dict, capsys) -> tuple[int, str, list[str]]:
    """`rollbook verify` of a record holding `made`: its exit code, its output, its arguments."""
    record, signers = signed_record(folder, made)
    args = ["verify", str(record), "--allowed-signers", str(signers)]
    return cli.main(args), capsys.readouterr().out, args


def test_verify_exits_incomplete_then_differs_naming_the_step(tmp_path: Path, capsys) -> None:
    """Intact and this checkout's code, sign-offs missing: 4 (INCOMPLETO). The run's step file
    differs from the checkout's: 3 (DISTINTO), the file named. Tampered: 1, the gravest."""
    made = fact()
    code, out, _ = verified(tmp_path / "same", made, capsys)
    assert code == cli.VERIFY_INCOMPLETE
    assert "INCOMPLETO: firmas requeridas pendientes: tech_lead" in out
    assert "iguales a los de este checkout" in out
    made["files"]["steps/services.py"] = "0" * 64
    code, out, args = verified(tmp_path / "other", made, capsys)
    assert code == cli.VERIFY_DIFFERS
    assert "archivo distinto: steps/services.py: differs from this checkout's" in out
    assert "DISTINTO: 1 archivos" in out
    Path(args[1], "journal.jsonl").write_text("{}\n")
    assert cli.main(args) == cli.VERIFY_BAD
    assert "BAD: journal.jsonl" in capsys.readouterr().out
