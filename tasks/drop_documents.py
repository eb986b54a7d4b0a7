"""The two documents a drop may carry besides images, parsed with limits: a SKU's ``meta.json``
and the drop's ``manifest.csv``. They come from outside, so every limit is checked before the
parser runs (size, nesting, types, encoding) and every refusal is an :class:`InputError` with
a code that becomes the SKU's quarantine reason. Nothing here touches the ledger."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

META_MAX_BYTES = 64 * 1024
META_MAX_DEPTH = 16
MANIFEST_MAX_BYTES = 16 * 1024 * 1024
MANIFEST_MAX_ROWS = 200_000
CELL_MAX_CHARS = 4096


class InputError(ValueError):
    """An input document the pipeline refuses; ``code`` names the case."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


def shown(value: Any, limit: int = 80) -> str:
    """``value`` as a reason may quote it: repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(data: bytes, code: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            code, f"not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); save the file as UTF-8"
        ) from error


def _refuse_constant(name: str) -> Any:
    raise InputError("meta_json_invalid", f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _max_nesting(text: str) -> int:
    """The deepest bracket nesting outside strings: checked before parsing, so a document
    nested 100,000 deep never reaches the recursive parser."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_meta(data: bytes) -> dict[str, Any]:
    """A SKU's meta.json: a JSON object of at most 64 KiB and 16 levels, strict JSON (no NaN or
    Infinity, which PostgreSQL's JSON refuses), ``category`` a string when present."""
    if len(data) > META_MAX_BYTES:
        raise InputError("meta_json_too_large", f"{len(data)} bytes (at most {META_MAX_BYTES})")
    text = _text(data, "meta_json_encoding")
    if _max_nesting(text) > META_MAX_DEPTH:
        raise InputError("meta_json_too_deep", f"nested deeper than {META_MAX_DEPTH} levels")
    try:
        meta = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        raise InputError("meta_json_invalid", str(error)) from error
    if not isinstance(meta, dict):
        raise InputError("meta_json_invalid", f"expected a JSON object, got {type(meta).__name__}")
    if _depth(meta) > META_MAX_DEPTH:
        raise InputError("meta_json_too_deep", f"nested deeper than {META_MAX_DEPTH} levels")
    if "category" in meta and not isinstance(meta["category"], str | None):
        raise InputError(
            "meta_category_invalid", f"category must be a string, got {type(meta['category']).__name__} {shown(meta['category'])}"
        )
    return meta


@dataclass
class Manifest:
    """A drop's manifest.csv: one row per SKU. ``error`` when the file as a whole is unusable
    (the SKUs that needed it are quarantined with it); ``row_errors`` per SKU (a duplicated SKU,
    an over-long cell)."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    row_errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def parse_manifest(data: bytes) -> Manifest:
    """Columns ``sku`` and optionally ``category`` (others kept as they are), UTF-8."""
    try:
        return _parse_manifest(data)
    except InputError as error:
        return Manifest(error=str(error))


def _parse_manifest(data: bytes) -> Manifest:
    if len(data) > MANIFEST_MAX_BYTES:
        raise InputError("manifest_too_large", f"{len(data)} bytes (at most {MANIFEST_MAX_BYTES})")
    text = _text(data, "manifest_encoding")
    if "\x00" in text:
        raise InputError("manifest_invalid", "the file contains NUL bytes: not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if "sku" not in header:
            raise InputError("manifest_invalid", f"no 'sku' column in the header {shown(header)}")
        manifest, seen = Manifest(), dict[str, list[int]]()
        for number, cells in enumerate(reader, start=2):
            if number > MANIFEST_MAX_ROWS + 1:
                raise InputError("manifest_too_large", f"more than {MANIFEST_MAX_ROWS} rows")
            if not any(cell.strip() for cell in cells):
                continue
            row = {name: (cells[i] if i < len(cells) else "").strip() for i, name in enumerate(header) if name}
            sku = row["sku"]
            if not sku:
                continue
            seen.setdefault(sku, []).append(number)
            if any(len(value) > CELL_MAX_CHARS for value in row.values()):
                manifest.row_errors[sku] = f"manifest_row_invalid: row {number} has a cell over {CELL_MAX_CHARS} characters"
            manifest.rows[sku] = row
    except csv.Error as error:
        raise InputError("manifest_invalid", f"not a readable CSV file ({error})") from error
    for sku, numbers in seen.items():
        if len(numbers) > 1:
            manifest.row_errors[sku] = f"manifest_duplicate_sku: {len(numbers)} rows for it (rows {', '.join(map(str, numbers))})"
    return manifest
