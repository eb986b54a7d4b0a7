"""A look file (``storefront/looks/{sku}.json``, docs/looks.md): the garments of the other
category that go with a SKU on the storefront, with the compatibility model that scored them.
The storefront reads it by the published JSON schema ``LOOK_FILE_SCHEMA``; the looks step writes
it through the storefront gate, the report reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema

from tasks.catalog.documents import JsonObject, from_document, to_document
from tasks.storage import ObjectStore, look_file_key

# a JSON Schema document, published for the storefront's readers
LOOK_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["sku", "category", "drop_date", "model", "looks"],
    "additionalProperties": False,
    "properties": {
        "sku": {"type": "string", "minLength": 1},
        "category": {"enum": ["upper_body", "lower_body"]},
        "drop_date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "model": {
            "type": "object",
            "required": ["version", "sha256", "released", "embedding_backend"],
            "additionalProperties": False,
            "properties": {
                "version": {"type": "string"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "released": {"type": "boolean"},
                "embedding_backend": {"type": "string"},
            },
        },
        "looks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "category", "score", "images"],
                "additionalProperties": False,
                "properties": {
                    "sku": {"type": "string", "minLength": 1},
                    "category": {"enum": ["upper_body", "lower_body"]},
                    "score": {"type": "number", "minimum": -1, "maximum": 1},
                    "images": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^storefront/"}},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class LooksModelRef:
    version: str
    sha256: str
    released: bool
    embedding_backend: str


@dataclass(frozen=True)
class Look:
    sku: str
    category: str
    score: float
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LookFile:
    sku: str
    category: str
    drop_date: str
    model: LooksModelRef
    looks: list[Look] = field(default_factory=list)

    def document(self) -> JsonObject:
        """The file as the storefront reads it, checked against the published schema."""
        written = to_document(self)
        jsonschema.validate(written, LOOK_FILE_SCHEMA)
        return written


def read_look_file(store: ObjectStore, sku: str) -> LookFile | None:
    document = store.get_json_or_none(look_file_key(sku))
    return None if document is None else from_document(LookFile, document)
