"""Redaction of secret values from everything the run writes or prints.

A safety net, not the protection: secrets never reach a command line (rollbook.core.host), so they
can only turn up in free text (output, log lines, messages) or, through a bug, in a command's
arguments, which stay masked too. The facts that §9 and --resume read back — paths, commits,
tags, database names — are kept intact even when a secret happens to be a substring of them:
masking part of a path would make the recovery act on a path that does not exist."""

from __future__ import annotations

from typing import Any

MASK = "[REDACTED]"
IDENTIFIERS = frozenset(
    {
        "host",
        "path",
        "commit",
        "tag",
        "name",
        "source",
        "restoring",
        "aside",
        "shadow",
        "freeze",
        "environment_file",
        "incident",
        "report_dir",
    }
)


class Redactor:
    """Knows every secret value of the run and masks it in strings and nested data."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: str) -> None:
        if value and len(value) >= 3:
            self._secrets.add(value)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """Strings masked, except under the keys that name IDENTIFIERS."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: v if k in IDENTIFIERS else self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
