"""The JSON form of the catalog's typed contracts. A contract is a dataclass; it is written as
its JSON object and read back validated (pydantic builds both from the class), so its fields are
listed once, in the class, and a document that lacks one or holds the wrong kind is refused by
name instead of surfacing later as a KeyError."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import JsonValue, TypeAdapter

T = TypeVar("T")

JsonObject = dict[str, JsonValue]  # what a contract becomes on the wire and in the bucket


_adapters: dict[type, TypeAdapter[Any]] = {}


def _adapter(kind: type) -> TypeAdapter[Any]:
    if kind not in _adapters:
        _adapters[kind] = TypeAdapter(kind)
    return _adapters[kind]


def to_document(value: object) -> JsonObject:
    """``value`` (a contract's dataclass) as its JSON object."""
    document: JsonObject = _adapter(type(value)).dump_python(value, mode="json")
    return document


def from_document(kind: type[T], document: object) -> T:
    """The ``kind`` that ``document`` (a JSON object read back) holds, validated."""
    value: T = _adapter(kind).validate_python(document)
    return value
