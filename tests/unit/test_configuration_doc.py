"""docs/CONFIGURATION.md is the schema's: every key of the environment file is there, with its
type and default, and the file is what the generator writes today."""

import re

from rollbook.core.config import Environment
from rollbook.record import configuration_doc


def test_every_key_of_the_schema_is_documented() -> None:
    text = configuration_doc.TARGET.read_text(encoding="utf-8")
    documented = {
        path.rsplit(".", 1)[-1].removeprefix("[]")
        for path in re.findall(r"^\| `([^`]+)` \|", text, re.M)
    }
    schema = Environment.model_json_schema()
    named = set(schema["properties"]) - {"source"}
    for definition in schema.get("$defs", {}).values():
        named |= set(definition.get("properties", {}))
    assert named - documented == set()
    for key in configuration_doc.schema_keys():
        assert f"| `{key.path}` | {key.kind.replace('|', chr(92) + '|')} |" in text, key.path


def test_the_document_is_what_the_generator_writes() -> None:
    assert configuration_doc.TARGET.read_text(encoding="utf-8") == configuration_doc.render(), (
        "docs/CONFIGURATION.md is stale: run .venv/bin/python -m rollbook.record.configuration_doc"
    )
