"""§3's people of an environment: who holds which role, and the keys they sign with."""

from __future__ import annotations

from pathlib import Path

from rollbook.core.config import Environment, Person
from rollbook.core.errors import UserError
from rollbook.governance import signing

STATEMENT_NAMESPACE = "rollbook-statement"  # approvals and sign-offs (governance/statements.py)


def find(env: Environment, who: str) -> Person | None:
    """The person named `who` (their name or identity, case ignored)."""
    wanted = who.strip().casefold()
    for person in env.people:
        if wanted in (person.name.casefold(), person.identity.casefold()):
            return person
    return None


def holding(env: Environment, roles: list[str]) -> list[Person]:
    return [person for person in env.people if set(person.roles) & set(roles)]


def public_key_line(person: Person) -> str:
    """`type blob` of the person's public key file, or a UserError naming the fix."""
    if person.public_key is None:
        raise UserError(
            f"{person.name} has no public_key in the environment file: they cannot sign; add "
            "the path of their SSH public key (.pub)"
        )
    try:
        fields = Path(person.public_key).read_text(encoding="utf-8").split()
    except OSError as exc:
        raise UserError(
            f"public key of {person.name} ({person.public_key}): cannot read it ({exc.strerror})"
        ) from None
    if len(fields) < 2:
        raise UserError(f"public key of {person.name} ({person.public_key}) is not an SSH key")
    return f"{fields[0]} {fields[1]}"


def by_key(env: Environment, public: str) -> Person | None:
    """The person whose public key is `public` (a `type blob …` line)."""
    wanted = signing.fingerprint(public)
    for person in env.people:
        if person.public_key and signing.fingerprint(public_key_line(person)) == wanted:
            return person
    return None


def allowed_signers(env: Environment, namespace: str = STATEMENT_NAMESPACE) -> str:
    """allowed_signers lines (ssh-keygen format) of everyone with a key: for their statements,
    or (`namespace` of the record) for records they signed as operators."""
    return "".join(
        f'{person.identity} namespaces="{namespace}" {public_key_line(person)}\n'
        for person in env.people
        if person.public_key
    )


def record_signers(env: Environment, base: Path | None, scratch: Path) -> Path | None:
    """An allowed_signers file for records: `base` (the auditors' file) and every person's key in
    the record's namespace (an operator signs with their own key); None when there is neither."""
    lines = base.read_text(encoding="utf-8") if base is not None and base.is_file() else ""
    if env.signing is not None:
        lines += allowed_signers(env, env.signing.namespace)
    if not lines:
        return base
    path = scratch / "allowed_signers"
    path.write_text(lines, encoding="utf-8")
    return path
