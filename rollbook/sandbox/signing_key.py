"""The sandbox's own signing key and the allowed_signers file an auditor of the sandbox trusts."""

from __future__ import annotations

from pathlib import Path

from rollbook.core.errors import UserError
from rollbook.governance.signing import public_key
from rollbook.sandbox.credentials import write_private
from rollbook.sandbox.layout import Layout
from rollbook.sandbox.shell import require_binary


def _make_key(layout: Layout, key: Path, identity: str) -> None:
    """An ed25519 key without passphrase, 0600 in a 0700 folder, made once."""
    key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not key.is_file():
        Path(f"{key}.pub").unlink(missing_ok=True)  # ssh-keygen would ask before replacing it
        ssh_keygen = require_binary("ssh-keygen", "apt-get install openssh-client")
        layout.shell.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", identity, "-f", key])


def ensure_signing_key(layout: Layout) -> None:
    """The record's key and each person's key (made once); allowed_signers of the record."""
    env = layout.env
    signing = env.signing
    if signing is None or signing.allowed_signers is None:
        raise UserError(
            f"{env.source}: keys 'signing.key' and 'signing.allowed_signers' are needed by "
            "`rollbook sandbox`"
        )
    key = Path(signing.key)
    _make_key(layout, key, signing.identity)
    for person in env.people:  # each signer's own key, beside their public_key
        if person.public_key:
            _make_key(layout, Path(person.public_key.removesuffix(".pub")), person.identity)
    key_type, key_blob = public_key(str(key)).split()[:2]
    write_private(
        Path(signing.allowed_signers),
        f'{signing.identity} namespaces="{signing.namespace}" {key_type} {key_blob}\n',
    )
