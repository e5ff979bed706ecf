"""Annotated types that make the OpenAPI document say exactly what validation enforces (docs/api.md).

- `documented(values)`: a string field whose validator accepts a closed set of values (often more
  leniently: any case, `TLP:AMBER`, `white`) is documented as that enum, so generated clients offer the
  canonical values and validation stays as it was.
- `refuse_nulls`: an update model that refuses null (omit a field to leave it) does not offer null.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import WithJsonSchema

TLP_NAMES = ("clear", "green", "amber", "amber+strict", "red")


def documented(values: Iterable[str], description: str | None = None) -> WithJsonSchema:
    """The JSON schema of a string that must be one of `values` (the validator enforces it)."""
    schema: dict[str, object] = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return WithJsonSchema(schema)  # type: ignore[arg-type]


def refuse_nulls(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for an update model whose validator refuses null (omit a field to leave it)."""
    for prop in schema.get("properties", {}).values():
        branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1:
            del prop["anyOf"]
            prop.update(branches[0])
        prop.pop("default", None)


# a TLP label: the canonical lower-case names; `TLP:AMBER`, `AMBER` and `white` are read too
TlpName = Annotated[str, documented(TLP_NAMES, "TLP 2.0 label (also read: `TLP:AMBER`, any case, `white`)")]
# TLP for what is sent or reported automatically: never red
TlpBelowRed = Annotated[str, documented(TLP_NAMES[:-1], "TLP 2.0 label below red (also read: `TLP:AMBER`, any case)")]
