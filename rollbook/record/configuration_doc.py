"""docs/CONFIGURATION.md, generated from the environment file's schema (rollbook.core.config):
every key with its type, whether it is required or its default, what it is for (the schema's own
comments and docstrings) and an example from the shipped environment files.

    .venv/bin/python -m rollbook.record.configuration_doc     # writes docs/CONFIGURATION.md
"""

from __future__ import annotations

import ast
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rollbook.core import config

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "docs" / "CONFIGURATION.md"
EXAMPLES = (
    "staging",
    "production",
    "sandbox",
    "fleet",
    "sandbox-wagtail",
    "sandbox-filer",
    "sandbox-systemd",
)
# the schema's placeholders for a key whose name is the operator's own
PLACEHOLDER = {
    "ready": "<worker>",
    "budgets": "<etapa>",
    "critical": "<function>",
    "env": "<VARIABLE>",
    "secret_env": "<VARIABLE>",
    "smoke_env": "<VARIABLE>",
    "hosts": "<role>",
}

# behaviour changes an older environment file meets, with the error each one gives
OLDER_FILES = [
    (
        "`approval: required` without `notify` (or another check left empty)",
        "environment NAME requires approval, yet these checks are not configured and could not "
        "fail: notify — set them in FILE",
        "configure `notify` (and every check named), or set `approval: optional`",
    ),
    (
        "a host spec `local://USER@`",
        "hosts.app: local://USER@ names 'USER@', but local:// commands run as the login user …",
        "write `local://` and `app.user: USER` (the app's commands run as it), or reach that "
        "user over ssh (`ssh://USER@HOST`)",
    ),
    (
        "an Ansible inventory with `ansible_become`, `ansible_become_user` or "
        "`ansible_become_method`",
        "hosts.app: INVENTORY sets ansible_become_user=USER for HOST, which rollbook does not "
        "apply …",
        "set `app.user: USER` (a `become_user` equal to it is applied), or remove it from the "
        "inventory",
    ),
    (
        "a celery worker whose broker has no remote control, run without `--loglevel INFO`",
        "HOST: worker NAME is checked by celery's '<node> ready.' log line (its broker has no "
        "remote control), but it runs at log level WARNING … (Paso 2.1, dry-run included)",
        "run the worker with `--loglevel INFO`, or give `services.ready.NAME.command`",
    ),
]


@dataclass(frozen=True)
class Key:
    path: str
    kind: str
    default: str  # "required", or the default as YAML would write it
    doc: str
    example: str


def comments() -> dict[tuple[str, str], str]:
    """(class, field) → the schema's comment on it: the lines above the field and the one
    after it on its own line."""
    source = Path(config.__file__).read_text(encoding="utf-8")
    lines = source.splitlines()
    found: dict[tuple[str, str], str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                above = []
                row = item.lineno - 2
                while row >= 0 and lines[row].strip().startswith("#"):
                    above.insert(0, lines[row].strip().lstrip("#").strip())
                    row -= 1
                end = lines[(item.end_lineno or item.lineno) - 1]
                trailing = end.split("  # ", 1)[1] if "  # " in end else ""
                text = " ".join([*above, trailing.strip()]).strip()
                found[(node.name, item.target.id)] = text
    return found


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The schema models inside an annotation (X | None, list[X], dict[str, X], bool | X)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin is list:
        return f"list of {_kind(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"map of {_kind(typing.get_args(annotation)[1])}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _is_duration(metadata: list[Any]) -> bool:
    return any(getattr(m, "func", None) is config.parse_duration for m in metadata)


def _yaml(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
    return text.strip().removesuffix("...").strip()


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory else field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "(its keys' defaults)"
    return _yaml(value)


def examples() -> list[dict[str, Any]]:
    folder = ROOT / "environments"
    return [
        yaml.safe_load((folder / f"{name}.yaml").read_text())
        for name in EXAMPLES
        if (folder / f"{name}.yaml").is_file()
    ]


def _example(path: list[str], files: list[dict[str, Any]]) -> str:
    for data in files:
        value: Any = data
        for part in path:
            if isinstance(value, list) and value and part == "[]":
                value = value[0]
            elif isinstance(value, dict) and part.startswith("<") and value:
                value = next(iter(value.values()))
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                value = None
                break
        if value is not None and not isinstance(value, dict):
            return _yaml(value)
    return ""


def schema_keys() -> Iterator[Key]:
    """Every key of the schema, depth first, in the schema's order."""
    yield from _keys(config.Environment, [], comments(), examples())


def _keys(
    model: type[BaseModel],
    prefix: list[str],
    said: dict[tuple[str, str], str],
    files: list[dict[str, Any]],
) -> Iterator[Key]:
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = [*prefix, name]
        annotation = field.annotation
        nested = _models(annotation)
        doc = said.get((model.__name__, name), "") or next(
            (re.sub(r"\s+", " ", m.__doc__).strip() for m in nested if m.__doc__), ""
        )
        shown = ".".join(path).replace(".[]", "[]")
        example = "" if nested else _example(path, files)
        kind = "duration (30s, 5m, 24h, 2d)" if _is_duration(field.metadata) else _kind(annotation)
        yield Key(shown, kind, _default(field), doc, example)
        for inner in nested:
            origin = typing.get_origin(annotation)
            args = typing.get_args(annotation)
            if origin is list:
                below = [*path, "[]"]
            elif origin is dict or (args and any(typing.get_origin(a) is dict for a in args)):
                below = [*path, PLACEHOLDER.get(name, "<name>")]
            else:
                below = path
            yield from _keys(inner, below, said, files)


def render() -> str:
    lines = [
        "# The environment file, key by key",
        "",
        "Generated from the schema (`rollbook/core/config.py`) by "
        "`.venv/bin/python -m rollbook.record.configuration_doc`; a unit test fails when a key "
        "of the schema is missing here or this file is stale. Examples come from the shipped "
        "files in `environments/`. Durations are written `30s`, `5m`, `24h` or `2d`. A key the "
        "schema does not know is refused (the file names it).",
        "",
        "| key | type | default | what it is for | example |",
        "|---|---|---|---|---|",
    ]
    for key in schema_keys():
        default = key.default if key.default == "required" else f"`{key.default}`"
        example = f"`{key.example}`" if key.example else ""
        cells = [f"`{key.path}`", key.kind, default, key.doc, example]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += [
        "",
        "## Coming from an older file",
        "",
        "| what the file has | what rollbook says now | what to do |",
        "|---|---|---|",
    ]
    lines += [f"| {what} | `{said}` | {fix} |" for what, said, fix in OLDER_FILES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
