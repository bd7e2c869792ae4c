"""Signed statements of people: an approval of a dry-run's plan, a sign-off of an incident record.

A statement is a small JSON file in the folder's `signoffs/` (outside SHA256SUMS: it is added
after the record was signed) with `ssh-keygen -Y sign` by the person's own key beside it
(`.sig`, namespace rollbook-statement). The key names the person: it must be the public key of
someone in the environment's `people`; the signature is checked against those keys only.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollbook.core.config import Environment, Person
from rollbook.core.errors import UserError
from rollbook.governance import people, signing

FOLDER = signing.STATEMENTS


@dataclass(frozen=True)
class Signed:
    path: Path
    statement: dict[str, Any]
    person: Person


def signer(env: Environment, key: str) -> Person:
    """The person of `env` whose public key is that of `key`."""
    person = people.by_key(env, signing.public_of(key))
    if person is None:
        raise UserError(
            f"key {key} is not the key of anyone in {env.source} (people): add its public key "
            "to your entry there, or sign with your own key"
        )
    return person


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def sign(
    folder: Path, env: Environment, key: str, body: dict[str, Any], *, append: bool = False
) -> Signed:
    """Write `signoffs/<kind>-<role>-<identity>.json` with `body`, the signer and the time, and
    sign it with `key`; `append`: a new file beside the earlier ones (`…-N.json`), never over
    them (addenda)."""
    person = signer(env, key)
    statement = {
        **body,
        "person": person.name,
        "identity": person.identity,
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    target = folder / FOLDER
    target.mkdir(mode=0o755, exist_ok=True)
    name = f"{body['kind']}-{body.get('role', 'x')}-{_slug(person.identity)}"
    text = json.dumps(statement, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    path = _new_file(target, name, text) if append else target / f"{name}.json"
    if not append:
        path.write_text(text)
    signature = path.with_name(path.name + ".sig")
    signature.unlink(missing_ok=True)  # ssh-keygen would ask before overwriting it
    status, _, err = signing.ssh_keygen(
        "-Y", "sign", "-f", str(Path(key).expanduser()), "-n", people.STATEMENT_NAMESPACE, str(path)
    )
    if status != 0:
        path.unlink(missing_ok=True)
        raise UserError(f"ssh-keygen could not sign {path.name} with {key}: {err.strip()[-200:]}")
    return Signed(path, statement, person)


def _new_file(folder: Path, name: str, text: str) -> Path:
    """`text` in `<name>-N.json`, N the first number after the files already there whose file
    does not exist when it is created (exclusively: a statement written meanwhile is kept)."""
    number = len(list(folder.glob(f"{name}-*.json"))) + 1
    while True:
        path = folder / f"{name}-{number}.json"
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except FileExistsError:
            number += 1


def read(path: Path, env: Environment) -> Signed:
    """The statement at `path`, its signature checked against `env`'s people; else UserError."""
    try:
        statement = json.loads(path.read_text(encoding="utf-8"))
        identity = str(statement["identity"])
    except FileNotFoundError:
        raise UserError(f"{path} does not exist: give the file `rollbook approve` wrote") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(
            f"{path} is not a statement written by rollbook (JSON with identity)"
        ) from None
    person = people.find(env, identity)
    if person is None or person.public_key is None:
        raise UserError(
            f"{path}: signed as {identity}, who is not among the people of {env.source}"
        )
    signature = path.with_name(path.name + ".sig")
    if not signature.is_file():
        raise UserError(f"{path}: its signature {signature.name} is missing")
    with tempfile.TemporaryDirectory() as scratch:
        allowed = Path(scratch) / "allowed_signers"
        allowed.write_text(people.allowed_signers(env), encoding="utf-8")
        with path.open("rb") as content:
            status, _, err = signing.ssh_keygen(
                *("-Y", "verify", "-f", str(allowed), "-I", identity),
                *("-n", people.STATEMENT_NAMESPACE, "-s", str(signature)),
                stdin=content,
            )
    if status != 0:
        raise UserError(
            f"{path}: the signature is not {person.name}'s ({identity}) over this file: "
            f"{err.strip().splitlines()[-1] if err.strip() else 'not valid'}"
        )
    return Signed(path, statement, person)


def in_folder(folder: Path) -> list[Path]:
    return sorted((folder / FOLDER).glob("*.json"))


def record_key(env: Environment, own_key: str | None) -> tuple[str, str] | None:
    """(key, identity) that signs an incident record: the operator's own key (--signing-key),
    as the person it belongs to, else the environment's signing key; None: no signing."""
    if env.signing is None:
        return None
    if own_key:
        return own_key, signer(env, own_key).identity
    return env.signing.key, env.signing.identity
