"""The signed incident record: SHA256SUMS over an incident folder, signed with `ssh-keygen -Y`.

Signing runs on the operator's machine through subprocess, not through the run's Executor: by the
time a folder is signed, journal.jsonl is hashed into SHA256SUMS and must not change, and the
Executor writes every command it runs into that journal.

An auditor needs nothing but ssh-keygen and sha256sum (identity and namespace are in SIGNER):

    ssh-keygen -Y verify -f allowed_signers -I IDENTITY -n NAMESPACE -s SHA256SUMS.sig < SHA256SUMS
    sha256sum -c SHA256SUMS
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rollbook.core.errors import UserError

MANIFEST = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
SIGNER = "SIGNER"
STATEMENTS = "signoffs"  # people's signed statements, added after the record (statements.py)
_SSH_KEYGEN_TIMEOUT = 30.0
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_SIGNER_KEYS = ("identity", "namespace", "fingerprint")


@dataclass(frozen=True)
class Signer:
    """Who signed a folder: the contents of its SIGNER file."""

    identity: str
    namespace: str
    fingerprint: str


def ssh_keygen(*args: str, stdin: IO[bytes] | int = subprocess.DEVNULL) -> tuple[int, str, str]:
    """Run ssh-keygen without a terminal (nothing may wait for an answer): status, out, err."""
    try:
        done = subprocess.run(
            ["ssh-keygen", *args],
            stdin=stdin,
            capture_output=True,
            timeout=_SSH_KEYGEN_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise UserError(
            "ssh-keygen not found: install OpenSSH 8.1 or newer (apt-get install openssh-client)"
        ) from None
    except subprocess.TimeoutExpired:
        raise UserError(
            f"`ssh-keygen {args[0]}` did not finish within {_SSH_KEYGEN_TIMEOUT:.0f}s"
        ) from None
    return (
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _write_private(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _entries(folder: Path) -> list[str]:
    """Every non-folder entry under `folder` but the manifest, its signature and the people's
    statements, sorted."""
    names = (
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_symlink() or not path.is_dir()
    )
    return sorted(
        name
        for name in names
        if name not in (MANIFEST, SIGNATURE) and not name.startswith(f"{STATEMENTS}/")
    )


# --- signing (the operator) --------------------------------------------------------------------


def public_key(key: str) -> str:
    """The public key (`ssh-ed25519 AAAA… comment`) of the private key file `key`."""
    problem = check_signing_key(key)
    if problem is not None:
        raise UserError(problem)
    return ssh_keygen("-y", "-P", "", "-f", key)[1].strip()


def public_of(key: str) -> str:
    """The public key line of `key`: a .pub file (its private half in ssh-agent) or a private
    key file without passphrase."""
    path = Path(key).expanduser()
    if not path.is_file():
        raise UserError(
            f"key {key} does not exist: give your SSH key (private, or .pub in ssh-agent)"
        )
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if text.startswith(("ssh-", "ecdsa-", "sk-")):
        return text
    return public_key(str(path))


def usable_key(key: str) -> str | None:
    """None when `key` can sign unattended: a private key (check_signing_key), or a .pub whose
    private half ssh-agent holds (else the private key beside it); else the reason and fix."""
    path = Path(key).expanduser()
    if not key.endswith(".pub") or not path.is_file():
        return check_signing_key(key)
    if _in_agent(path):
        return None
    private = path.with_suffix("")
    if private.is_file():  # ssh-keygen signs with the private key beside it: its pair only
        problem = check_signing_key(str(private))
        if (
            problem is None
            and public_key(str(private)).split()[:2]
            != (path.read_text(encoding="utf-8").split()[:2])
        ):
            return f"{private} is not the private half of {key}: give your own key pair"
        return problem
    return f"the private half of {key} is not in ssh-agent (SSH_AUTH_SOCK): ssh-add it"


def _in_agent(public: Path) -> bool:
    if not os.environ.get("SSH_AUTH_SOCK"):
        return False
    try:
        done = subprocess.run(["ssh-add", "-L"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    wanted = public.read_text(encoding="utf-8").split()[:2]
    return any(line.split()[:2] == wanted for line in done.stdout.splitlines())


def check_signing_key(key: str) -> str | None:
    """None when `key` is a private key ssh-keygen can use unattended, else the reason and fix."""
    path = Path(key).expanduser()
    if not path.exists():
        return (
            f"signing key {key} does not exist: create it with `ssh-keygen -t ed25519 -N '' "
            f"-f {key}` and give its public key to the auditors, or fix signing.key"
        )
    if not path.is_file():
        return f"signing key {key} is not a file: point signing.key at an OpenSSH private key"
    if not os.access(path, os.R_OK):
        return f"signing key {key} is not readable by this user: fix its owner or mode (0600)"
    status, _, err = ssh_keygen("-y", "-P", "", "-f", str(path))
    if status == 0:
        return None
    reason = _last_line(err)
    if "passphrase" in reason:
        return (
            f"signing key {key} is protected by a passphrase and signing runs unattended: use a "
            f"key without one, kept at mode 0600 (`ssh-keygen -p -N '' -f {key}`)"
        )
    if "bad permissions" in reason:
        return f"signing key {key} can be read by others and ssh-keygen refuses it: chmod 600 {key}"
    return (
        f"signing key {key} is not a private key ssh-keygen accepts ({reason}): point "
        "signing.key at an OpenSSH private key"
    )


def write_manifest(folder: Path) -> Path:
    """SHA256SUMS in `sha256sum` format: every file of `folder` but SHA256SUMS(.sig), by name."""
    lines = []
    for name in _entries(folder):
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise UserError(f"{path}: not a regular file, it cannot be signed: remove it")
        lines.append(f"{_sha256(path)}  {name}\n")
    manifest = folder / MANIFEST
    _write_private(manifest, "".join(lines))
    return manifest


def fingerprint(public: str) -> str:
    """`SHA256:…` of a public key line, as `ssh-keygen -l` and `ssh-keygen -Y verify` print it."""
    blob = base64.b64decode(public.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def sign_folder(folder: Path, key: str, identity: str, namespace: str) -> Path:
    """Write SIGNER, then SHA256SUMS (which covers SIGNER), then sign it: SHA256SUMS.sig."""
    signer = Signer(identity, namespace, fingerprint(public_of(key)))
    _write_private(folder / SIGNER, "".join(f"{k}: {getattr(signer, k)}\n" for k in _SIGNER_KEYS))
    manifest = write_manifest(folder)
    signature = folder / SIGNATURE
    signature.unlink(missing_ok=True)  # ssh-keygen would ask before overwriting it
    status, _, err = ssh_keygen("-Y", "sign", "-f", key, "-n", namespace, str(manifest))
    if status != 0:
        raise UserError(f"{manifest}: ssh-keygen could not sign it: {_last_line(err)}")
    signature.chmod(0o600)
    return signature


# --- verifying (the auditor) -------------------------------------------------------------------


def read_signer(folder: Path) -> Signer | None:
    """The SIGNER file's `key: value` lines; None when it is missing or incomplete."""
    try:
        text = (folder / SIGNER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = (line.partition(":") for line in text.splitlines())
    values = {key.strip(): value.strip() for key, sep, value in lines if sep}
    if not all(values.get(key) for key in _SIGNER_KEYS):
        return None
    return Signer(**{key: values[key] for key in _SIGNER_KEYS})


@dataclass(frozen=True)
class Manifest:
    """SHA256SUMS read back: name → sha256, and its lines that are not `<sha256>  <name>`."""

    sums: dict[str, str]
    malformed: list[int]


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"{path} does not exist: {folder} is not a signed incident folder"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it: {exc}") from None
    sums: dict[str, str] = {}
    malformed: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MANIFEST_LINE.match(line)
        if match:
            sums[match.group(2)] = match.group(1)
        else:
            malformed.append(number)
    return Manifest(sums, malformed)


def _signature_problems(folder: Path, allowed_signers: Path) -> list[str]:
    signer = read_signer(folder)
    if signer is None:
        return [f"{SIGNER}: missing or incomplete: the signer's identity and namespace are unknown"]
    if not (folder / SIGNATURE).is_file():
        return [f"{SIGNATURE}: missing: the folder is not signed"]
    with (folder / MANIFEST).open("rb") as manifest:
        status, _, err = ssh_keygen(
            *("-Y", "verify", "-f", str(allowed_signers), "-I", signer.identity),
            *("-n", signer.namespace, "-s", str(folder / SIGNATURE)),
            stdin=manifest,
        )
    if status != 0:
        return [
            f"{SIGNATURE}: signature not valid for identity {signer.identity} "
            f"(namespace {signer.namespace}, {allowed_signers}): {_last_line(err)}"
        ]
    return []


def _hash_problems(folder: Path, manifest: Manifest) -> list[str]:
    problems = [f"{MANIFEST}: line {n} is not '<sha256>  <name>'" for n in manifest.malformed]
    root = folder.resolve()
    for name, expected in manifest.sums.items():
        path = folder / name
        if not path.resolve().is_relative_to(root):
            problems.append(f"{name}: points outside the folder")
        elif not path.exists():
            problems.append(f"{name}: listed in {MANIFEST} but missing")
        elif path.is_symlink() or not path.is_file():
            problems.append(f"{name}: not a regular file")
        elif _sha256(path) != expected:
            problems.append(f"{name}: sha256 differs from {MANIFEST}")
    return problems


def verify_folder(folder: Path, allowed_signers: Path | None) -> list[str]:
    """The problems of a signed incident folder, one line each naming the file; [] when Good.

    The signature of SHA256SUMS (identity and namespace from SIGNER), every hash it lists, and
    every file of the folder it does not list.
    """
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give the path of an incident folder")
    if allowed_signers is None:
        raise UserError(
            "no allowed signers file: pass --allowed-signers FILE (the signing keys you trust) "
            "or --env NAME whose signing.allowed_signers names it"
        )
    if not allowed_signers.is_file():
        raise UserError(f"allowed signers file {allowed_signers} does not exist: check the path")
    manifest = read_manifest(folder)
    extra = [f"{name}: not in {MANIFEST}" for name in _entries(folder) if name not in manifest.sums]
    return _signature_problems(folder, allowed_signers) + _hash_problems(folder, manifest) + extra
