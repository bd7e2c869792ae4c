"""§3.1 and §14 after a run: people sign the incident record off (`rollbook sign-off`), and
`rollbook verify` lists who signed, in which role, and which sign-offs are still missing."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollbook.core.config import Environment, Person, load_file
from rollbook.core.errors import UserError
from rollbook.core.journal import facts_of, read_journal
from rollbook.governance import addenda, approval, people, provenance, signing, statements

# what a role's signature means, from §3.1's matrix (and Paso 6.3's manual verification)
DUTIES = {
    "tech_lead": "Validar rollback (A), Documentar incidente (R) y la verificación manual del "
    "Paso 6.3",
    "incident_manager": "Declarar necesidad (R) y Documentar incidente (A)",
    "dba": "Restaurar base de datos (R)",
    "developer": "Validar rollback (R) y la verificación manual del Paso 6.3",
    "devops": "Ejecutar rollback (R)",
    "product_owner": "informado del cierre (§7.3)",
    "cto": "escalado (Anexo C)",
    "on_call": "guardia on-call (§10.2, §12.4)",
}


def facts(folder: Path) -> dict[str, dict[str, Any]]:
    """The facts the record's journal holds (the last value of each)."""
    journal = folder / "journal.jsonl"
    if not journal.is_file():
        raise UserError(f"{folder} has no journal.jsonl: give an incident folder")
    return facts_of(read_journal(journal))


def environment_of(folder: Path) -> Environment:
    """The environment file the record names (its provenance), when it is still there."""
    made = provenance_of(folder)
    path = Path((made or {}).get("environment", {}).get("file", ""))
    if not made or not path.is_file():
        raise UserError(f"cannot tell {folder}'s environment file: pass --env NAME")
    return load_file(path)


def _manifest_sha256(folder: Path) -> str:
    path = folder / signing.MANIFEST
    if not path.is_file():
        raise UserError(f"{folder} is not signed (no {signing.MANIFEST}): nothing to sign off")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(folder: Path, env: Environment, what: str) -> None:
    """The record verifies against the environment's keys; else UserError naming `what`."""
    allowed = env.signing.allowed_signers if env.signing else None
    with tempfile.TemporaryDirectory() as scratch:
        trusted = people.record_signers(env, Path(allowed) if allowed else None, Path(scratch))
        problems = signing.verify_folder(folder, trusted)
    if problems:
        raise UserError(f"{folder} does not verify ({problems[0]}): {what}")


def add_addendum(
    folder: Path, env: Environment, key: str, what: str, text: str, number: int | None = None
) -> statements.Signed:
    """A signed addendum beside a record that verifies (rollbook.governance.addenda): the record
    itself is not touched."""
    person = statements.signer(env, key)
    _verified(folder, env, "nothing can be added to it")
    body = addenda.body(facts(folder), person, what, text, number)
    body.update(incident=folder.name, manifest_sha256=_manifest_sha256(folder))
    return statements.sign(folder, env, key, body, append=True)


def sign(folder: Path, env: Environment, key: str, role: str) -> statements.Signed:
    """A person's sign-off over the record's SHA256SUMS, once the record verifies."""
    person = statements.signer(env, key)
    if role not in person.roles:
        raise UserError(
            f"{person.name} does not hold the role {role} in {env.name} (their roles: "
            f"{', '.join(person.roles)})"
        )
    _verified(folder, env, "it cannot be signed off")
    if _ran_it(folder, person):
        raise UserError(
            f"{person.name} ran or signed this rollback: four eyes — the sign-off comes from "
            "someone else holding the role"
        )
    pending = facts(folder).get("approval", {}).get("status") == approval.PENDING
    body = {
        "kind": "sign-off",
        "role": role,
        "incident": folder.name,
        "manifest_sha256": _manifest_sha256(folder),
        "duty": DUTIES.get(role, role),
        # four eyes needs to know who ran it: an operator who is nobody of `people` and did
        # not sign with their own key cannot be told apart from the one countersigning
        "countersigns_approval": pending
        and role in env.approvers
        and _operator_identified(folder, env),
    }
    return statements.sign(folder, env, key, body)


def _ran_it(folder: Path, person: Person) -> bool:
    """The person is the incident's operator, or the record was first signed with their key."""
    operator = str(facts(folder).get("incident", {}).get("operator", "")).strip().casefold()
    record = signing.read_signer(_first_signed(folder))
    own = signing.fingerprint(people.public_key_line(person)) if person.public_key else None
    return operator in (person.name.casefold(), person.identity.casefold()) or (
        record is not None and record.fingerprint == own
    )


def _first_signed(folder: Path) -> Path:
    """Where the run's own signature is: the folder, or previous-signature-1/ once §8.2's watch
    signed it again."""
    first = folder / "previous-signature-1"
    return first if (first / signing.SIGNER).is_file() else folder


def _operator_identified(folder: Path, env: Environment) -> bool:
    """The operator is a person of the environment (by name, or by the key that signed)."""
    operator = str(facts(folder).get("incident", {}).get("operator", ""))
    record = signing.read_signer(_first_signed(folder))
    keyed = [
        p
        for p in env.people
        if p.public_key
        and record is not None
        and signing.fingerprint(people.public_key_line(p)) == record.fingerprint
    ]
    return people.find(env, operator) is not None or bool(keyed)


@dataclass
class Review:
    """What `rollbook verify` says of a verified folder beyond its own signature."""

    lines: list[str] = field(default_factory=list)  # for the auditor
    problems: list[str] = field(default_factory=list)  # a statement that does not hold
    differs: list[str] = field(default_factory=list)  # files of the run this checkout changed
    pending: list[str] = field(default_factory=list)  # sign-offs or approval still missing


def review(folder: Path, env: Environment) -> Review:
    """The people's signatures of a verified folder, what is still missing, and the files of
    the run that differ from this checkout."""
    found = Review()
    lines, problems = found.lines, found.problems
    manifest = _manifest_sha256(folder)
    record = signing.read_signer(folder)
    if record is not None:
        lines.append(f"registro firmado por {record.identity} ({record.fingerprint})")
    signed_roles: dict[str, list[str]] = {}
    written: list[dict[str, Any]] = []
    for path in statements.in_folder(folder):
        try:
            signed = statements.read(path, env)
        except UserError as exc:
            problems.append(str(exc))
            continue
        statement, person = signed.statement, signed.person
        role = str(statement.get("role"))
        if statement.get("kind") not in ("sign-off", addenda.KIND):
            continue  # an approval of a dry-run's plan: read by the run it approved
        if statement.get("manifest_sha256") != manifest:
            problems.append(f"{path.name}: signs another version of {signing.MANIFEST}")
            continue
        if role not in person.roles:
            problems.append(f"{path.name}: {person.name} does not hold the role {role}")
            continue
        if statement.get("kind") == addenda.KIND:
            written.append(statement)
            continue
        if _ran_it(folder, person):
            problems.append(f"{path.name}: {person.name} ran or signed this rollback")
            continue
        signed_roles.setdefault(role, []).append(person.name)
        lines.append(
            f"firma de {person.name} <{person.identity}> como {role} el "
            f"{statement.get('signed_at')}: {statement.get('duty')}"
        )
    recorded = facts(folder)
    by = [name for role in env.approvers for name in signed_roles.get(role, [])]
    said, pending = _approval(recorded.get("approval"), by, _operator_identified(folder, env))
    lines.append(said)
    found.pending += [said] if pending else []
    missing = [role for role in env.sign_offs if role not in signed_roles]
    holders = {r: ", ".join(p.name for p in people.holding(env, [r])) for r in missing}
    if missing:
        found.pending.append(
            "firmas requeridas pendientes: "
            + "; ".join(f"{r} ({holders[r] or 'nadie tiene el rol'})" for r in missing)
        )
        lines.append(found.pending[-1])
    else:
        lines.append("firmas requeridas: todas presentes (" + ", ".join(env.sign_offs) + ")")
    closing, still_open = addenda.duties(recorded, written, datetime.now(UTC))
    lines += closing
    found.pending += still_open
    code, found.differs = code_review(recorded.get("provenance"))
    lines += code
    return found


def provenance_of(folder: Path) -> dict[str, Any] | None:
    """The record's provenance fact; None without one (or without a journal)."""
    return facts(folder).get("provenance") if (folder / "journal.jsonl").is_file() else None


def code_review(made: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(lines for the auditor, the files of the run that differ from this checkout): the
    procedure, code, steps and features that ran (provenance fact `made`), by their hashes."""
    if not made:
        return ["procedimiento: no registrado"], []
    differs = [f"archivo distinto: {line}" for line in provenance.differences(made)]
    same = "código, features y documento del procedimiento: iguales a los de este checkout"
    return [f"procedimiento: {provenance.summary(made)}", *(differs or [same])], differs


def _approval(fact: dict[str, Any] | None, by: list[str], identified: bool) -> tuple[str, bool]:
    """The approval's line for the auditor, and whether it is still pending."""
    if not fact:
        return "aprobación: no registrada", False
    if fact["status"] != approval.PENDING:
        return f"aprobación: {approval.summary(fact)}", False
    if by and not identified:
        return (
            "aprobación pendiente: el operador no es nadie de people ni firmó con su clave "
            "(--signing-key): el refrendo no puede venir probadamente de otra persona"
        ), True
    if by:
        return f"aprobación: refrendada después por {', '.join(by)} (emergencia crítica)", False
    return "aprobación pendiente: ningún aprobador ha firmado todavía (rollbook sign-off)", True
