"""The signed incident record, with the real ssh-keygen and keys made in tmp folders."""

import dataclasses
import subprocess
from pathlib import Path

import pytest

from rollbook import cli
from rollbook.core.config import SigningConfig, load_environment
from rollbook.core.errors import UserError
from rollbook.governance.signing import (
    MANIFEST,
    SIGNATURE,
    SIGNER,
    check_signing_key,
    fingerprint,
    public_key,
    sign_folder,
    verify_folder,
    write_manifest,
)
from rollbook.sandbox.layout import load_layout
from rollbook.sandbox.signing_key import ensure_signing_key

IDENTITY = "auditor-test@rollbook.invalid"
NAMESPACE = "rollbook"
FILES = {"journal.jsonl": '{"event": "run_started"}\n', "report.html": "<html>ok</html>\n"}


def make_key(folder: Path, name: str = "signing_ed25519", passphrase: str = "") -> Path:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", IDENTITY, "-f", key],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return key


def write_allowed_signers(path: Path, key: Path, identity: str = IDENTITY) -> Path:
    path.write_text(f'{identity} namespaces="{NAMESPACE}" {public_key(str(key))}\n')
    return path


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A signing key and the allowed_signers file that trusts it."""
    folder = tmp_path / "keys"
    folder.mkdir()
    key = make_key(folder)
    return key, write_allowed_signers(folder / "allowed_signers", key)


@pytest.fixture
def signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    """A signed incident folder like reports/<incident-id>/."""
    folder = tmp_path / "2025-11-17-1430-staging"
    folder.mkdir(mode=0o700)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    (folder / "ROLLBACK-2025-11-17-1430.md").write_text("# Rollback\n")
    sign_folder(folder, str(keys[0]), IDENTITY, NAMESPACE)
    return folder


def test_manifest_is_sha256sum_format_sorted_and_private(tmp_path: Path) -> None:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / SIGNATURE).write_text("old signature")
    manifest = write_manifest(tmp_path)
    names = [line.split("  ", 1)[1] for line in manifest.read_text().splitlines()]
    assert names == sorted(FILES)
    assert manifest.stat().st_mode & 0o777 == 0o600
    check = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=tmp_path, capture_output=True)
    assert check.returncode == 0, check.stdout


def test_untouched_folder_is_good(signed: Path, keys: tuple[Path, Path]) -> None:
    assert verify_folder(signed, keys[1]) == []
    signer = (signed / SIGNER).read_text()
    assert f"identity: {IDENTITY}" in signer
    assert f"fingerprint: {fingerprint(public_key(str(keys[0])))}" in signer
    assert f"  {SIGNER}\n" in (signed / MANIFEST).read_text()
    assert all(
        (signed / name).stat().st_mode & 0o777 == 0o600 for name in (SIGNER, MANIFEST, SIGNATURE)
    )


def test_fingerprint_is_the_one_ssh_keygen_prints(keys: tuple[Path, Path]) -> None:
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{keys[0]}.pub"], capture_output=True, text=True, check=True
    )
    assert listed.stdout.split()[1] == fingerprint(public_key(str(keys[0])))


def test_auditor_needs_only_ssh_keygen_and_sha256sum(signed: Path, keys: tuple[Path, Path]) -> None:
    with (signed / MANIFEST).open("rb") as manifest:
        verified = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                keys[1],
                "-I",
                IDENTITY,
                "-n",
                NAMESPACE,
                "-s",
                signed / SIGNATURE,
            ],
            stdin=manifest,
            capture_output=True,
            text=True,
        )
    assert verified.returncode == 0 and "Good" in verified.stdout
    sums = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=signed, capture_output=True)
    assert sums.returncode == 0


@pytest.mark.parametrize("name", [*FILES, SIGNER, "ROLLBACK-2025-11-17-1430.md"])
def test_one_changed_byte_names_the_file(signed: Path, keys: tuple[Path, Path], name: str) -> None:
    data = bytearray((signed / name).read_bytes())
    data[0] ^= 1
    (signed / name).write_bytes(bytes(data))
    problems = verify_folder(signed, keys[1])
    assert f"{name}: sha256 differs from SHA256SUMS" in problems


def test_changed_manifest_breaks_the_signature(signed: Path, keys: tuple[Path, Path]) -> None:
    manifest = signed / MANIFEST
    manifest.write_text(manifest.read_text().replace("journal.jsonl", "journal.jsonl "))
    problems = verify_folder(signed, keys[1])
    assert any(p.startswith(f"{SIGNATURE}: signature not valid") for p in problems)


def test_new_file_is_bad(signed: Path, keys: tuple[Path, Path]) -> None:
    (signed / "extra.txt").write_text("added later\n")
    assert verify_folder(signed, keys[1]) == ["extra.txt: not in SHA256SUMS"]


def test_deleted_file_is_bad(signed: Path, keys: tuple[Path, Path]) -> None:
    (signed / "report.html").unlink()
    assert verify_folder(signed, keys[1]) == ["report.html: listed in SHA256SUMS but missing"]


def test_wrong_identity_in_allowed_signers_is_bad(
    signed: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other = write_allowed_signers(tmp_path / "other_signers", keys[0], "someone@else.invalid")
    problems = verify_folder(signed, other)
    assert len(problems) == 1
    assert problems[0].startswith(f"{SIGNATURE}: signature not valid for identity {IDENTITY}")


def test_key_not_in_allowed_signers_is_bad(signed: Path, tmp_path: Path) -> None:
    stranger = make_key(tmp_path, "stranger")
    problems = verify_folder(signed, write_allowed_signers(tmp_path / "signers", stranger))
    assert [p.split(":")[0] for p in problems] == [SIGNATURE]


def test_truncated_signature_is_bad(signed: Path, keys: tuple[Path, Path]) -> None:
    signature = signed / SIGNATURE
    signature.write_bytes(signature.read_bytes()[:100])
    problems = verify_folder(signed, keys[1])
    assert any(p.startswith(f"{SIGNATURE}: signature not valid") for p in problems)


def test_missing_signature_and_signer_are_bad(signed: Path, keys: tuple[Path, Path]) -> None:
    (signed / SIGNATURE).unlink()
    assert verify_folder(signed, keys[1]) == [f"{SIGNATURE}: missing: the folder is not signed"]
    (signed / SIGNER).unlink()
    problems = verify_folder(signed, keys[1])
    assert problems[0].startswith(f"{SIGNER}: missing or incomplete")
    assert f"{SIGNER}: listed in SHA256SUMS but missing" in problems


def test_resigning_replaces_the_signature(signed: Path, keys: tuple[Path, Path]) -> None:
    (signed / "rollback.log").write_text("added before signing again\n")
    sign_folder(signed, str(keys[0]), IDENTITY, NAMESPACE)
    assert verify_folder(signed, keys[1]) == []


# --- the signing key -----------------------------------------------------------------------------


def test_good_key_is_usable(keys: tuple[Path, Path]) -> None:
    assert check_signing_key(str(keys[0])) is None


def test_missing_key(tmp_path: Path) -> None:
    problem = check_signing_key(str(tmp_path / "nope"))
    assert (
        problem is not None and "does not exist" in problem and "ssh-keygen -t ed25519" in problem
    )


def test_file_that_is_not_a_key(tmp_path: Path) -> None:
    not_a_key = tmp_path / "not_a_key"
    not_a_key.write_text("hello\n")
    not_a_key.chmod(0o600)
    problem = check_signing_key(str(not_a_key))
    assert problem is not None and "is not a private key ssh-keygen accepts" in problem


def test_key_readable_by_others(keys: tuple[Path, Path]) -> None:
    keys[0].chmod(0o644)
    problem = check_signing_key(str(keys[0]))
    assert problem is not None and f"chmod 600 {keys[0]}" in problem


def test_passphrase_protected_key_is_unusable_unattended(tmp_path: Path) -> None:
    key = make_key(tmp_path, "protected", passphrase="correct horse")
    problem = check_signing_key(str(key))
    assert problem is not None and "protected by a passphrase" in problem
    assert "\n" not in problem


def test_signing_with_an_unusable_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="does not exist"):
        sign_folder(tmp_path, str(tmp_path / "nope"), IDENTITY, NAMESPACE)
    assert not (tmp_path / MANIFEST).exists()


# --- the sandbox's key ---------------------------------------------------------------------------


def test_sandbox_key_is_made_once_and_trusted(tmp_path: Path, signed: Path) -> None:
    layout = load_layout()
    signing = SigningConfig(
        key=str(tmp_path / "signing" / "key"),
        identity="sandbox@rollbook.invalid",
        allowed_signers=str(tmp_path / "signing" / "allowed_signers"),
    )
    layout = dataclasses.replace(
        layout, env=layout.env.model_copy(update={"signing": signing}), root=tmp_path / "sandbox"
    )
    ensure_signing_key(layout)
    key = Path(signing.key)
    first = key.read_bytes()
    ensure_signing_key(layout)
    assert key.read_bytes() == first
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.parent.stat().st_mode & 0o777 == 0o700
    sign_folder(signed, str(key), signing.identity, signing.namespace)
    assert verify_folder(signed, Path(str(signing.allowed_signers))) == []


def test_sandbox_environment_names_its_key() -> None:
    signing = load_environment("sandbox").signing
    assert signing is not None and signing.allowed_signers is not None
    assert Path(signing.key).is_absolute() and Path(signing.allowed_signers).is_absolute()
    assert load_environment("staging").signing.allowed_signers.startswith("/")  # ~ expanded


# --- `rollbook verify` ---------------------------------------------------------------------------


def test_cli_good(signed: Path, keys: tuple[Path, Path], capsys) -> None:
    assert cli.main(["verify", str(signed), "--allowed-signers", str(keys[1])]) == 0
    good, people, code = capsys.readouterr().out.splitlines()
    assert good == f"Good: {signed} (4 files, signed by {IDENTITY})"
    assert people.startswith("  people's sign-offs not checked: cannot tell")  # no --env
    assert code == "  procedimiento: no registrado"  # its journal holds no provenance


def test_cli_bad(signed: Path, keys: tuple[Path, Path], capsys) -> None:
    (signed / "journal.jsonl").write_text("rewritten\n")
    (signed / "extra.txt").write_text("x")
    assert cli.main(["verify", str(signed), "--allowed-signers", str(keys[1])]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "BAD: journal.jsonl: sha256 differs from SHA256SUMS",
        "BAD: extra.txt: not in SHA256SUMS",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{missing}", "--allowed-signers", "{signers}"], "is not a folder"),
        (["{unsigned}", "--allowed-signers", "{signers}"], "SHA256SUMS does not exist"),
        (["{signed}"], "no allowed signers file: pass --allowed-signers FILE"),
        (["{signed}", "--allowed-signers", "{missing}"], "allowed signers file"),
        (["{signed}", "--env", "nope"], "unknown environment 'nope'"),
    ],
)
def test_cli_bad_input_is_one_line(
    signed: Path, keys: tuple[Path, Path], tmp_path: Path, capsys, args: list[str], expected: str
) -> None:
    paths = {
        "signed": signed,
        "signers": keys[1],
        "missing": tmp_path / "missing",
        "unsigned": tmp_path / "keys",
    }
    assert cli.main(["verify", *(a.format(**paths) for a in args)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("rollbook: error: ") and expected in out.err
    assert out.err.count("\n") == 1


def test_cli_takes_allowed_signers_from_the_environment(signed: Path, capsys) -> None:
    expected = load_environment("staging").signing.allowed_signers
    if Path(expected).exists():
        pytest.skip(f"{expected} exists on this machine")
    assert cli.main(["verify", str(signed), "--env", "staging"]) == 1
    assert f"allowed signers file {expected} does not exist" in capsys.readouterr().err
