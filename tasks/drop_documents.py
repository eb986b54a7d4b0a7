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
    (no ``sku`` column, not text, too large: the SKUs that needed it are quarantined with it,
    never the others); ``row_errors`` per SKU (rows that disagree for one SKU, an over-long
    cell, bytes no encoding explains); ``warnings`` for the drop (a SKU listed twice alike, rows
    read as Windows-1252, blank SKU cells)."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    row_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def parse_manifest(data: bytes) -> Manifest:
    """Columns ``sku`` and optionally ``category`` (others kept as they are); header names in any
    case and spacing; UTF-8 (with or without a BOM), UTF-16 with a BOM, or, row by row, the
    Windows-1252 a spreadsheet exports; CRLF or LF."""
    try:
        return _parse_manifest(data)
    except InputError as error:
        return Manifest(error=str(error))


# what spreadsheets save CSV as, besides UTF-8: UTF-16 with a byte-order mark ("Unicode text")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decoded_lines(data: bytes) -> tuple[str, dict[int, str]]:
    """The manifest as text, and per line number (1-based) what its bytes needed: a line that
    is not UTF-8 is read as Windows-1252 (noted), a line neither explains is refused (its
    row gets the error)."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16"), {}
        except UnicodeDecodeError as error:
            raise InputError(
                "manifest_encoding", f"UTF-16 by its byte-order mark, but not valid UTF-16 ({error.reason})"
            ) from error
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines, notes = [], {}
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError as error:
            offset, byte = error.start, raw[error.start]
        try:
            lines.append(raw.decode("cp1252"))
            notes[number] = "cp1252"
        except UnicodeDecodeError:
            lines.append(raw.decode("latin-1"))
            notes[number] = f"byte 0x{byte:02x} at column {offset + 1} is neither UTF-8 nor Windows-1252"
    return "".join(lines), notes


def _parse_manifest(data: bytes) -> Manifest:
    if len(data) > MANIFEST_MAX_BYTES:
        raise InputError("manifest_too_large", f"{len(data)} bytes (at most {MANIFEST_MAX_BYTES})")
    if b"\x00" in data and not data.startswith(_UTF16_BOMS):
        raise InputError("manifest_invalid", "the file contains NUL bytes: not a CSV text file")
    text, line_notes = _decoded_lines(data)
    if "\x00" in text:
        raise InputError("manifest_invalid", "the file contains NUL characters: not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    manifest, seen = Manifest(), dict[str, list[tuple[int, dict[str, str]]]]()
    try:
        header = [" ".join(name.split()).lower() for name in next(reader, [])]
        if "sku" not in header:
            raise InputError("manifest_invalid", f"no 'sku' column in the header {shown(header)}")
        first_line, blank, windows_rows = 2, 0, []
        for number, cells in enumerate(reader, start=2):
            if number > MANIFEST_MAX_ROWS + 1:
                raise InputError("manifest_too_large", f"more than {MANIFEST_MAX_ROWS} rows")
            lines = range(first_line, reader.line_num + 1)  # the physical lines of this row
            first_line = reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            row = {name: (cells[i] if i < len(cells) else "").strip() for i, name in enumerate(header) if name}
            sku = row["sku"]
            if not sku:
                blank += 1
                continue
            seen.setdefault(sku, []).append((number, row))
            refused = [line_notes[n] for n in lines if line_notes.get(n, "cp1252") != "cp1252"]
            if refused:
                manifest.row_errors[sku] = f"manifest_encoding: row {number}: {refused[0]}; save the file as UTF-8"
            elif any(line_notes.get(n) == "cp1252" for n in lines):
                windows_rows.append(number)
            if any(len(value) > CELL_MAX_CHARS for value in row.values()):
                manifest.row_errors[sku] = f"manifest_row_invalid: row {number} has a cell over {CELL_MAX_CHARS} characters"
            manifest.rows[sku] = row
    except csv.Error as error:
        raise InputError("manifest_invalid", f"not a readable CSV file ({error})") from error
    if windows_rows:
        manifest.warnings.append(
            f"manifest_encoding: {len(windows_rows)} row(s) are not UTF-8 and were read as Windows-1252 "
            f"(rows {_numbers(windows_rows)}); save the file as UTF-8"
        )
    if blank:
        manifest.warnings.append(f"manifest_blank_sku: {blank} row(s) without a SKU were skipped")
    for sku, found in seen.items():
        if len(found) < 2:
            continue
        numbers = _numbers([number for number, _ in found])
        if any(row != found[0][1] for _, row in found[1:]):
            manifest.row_errors.setdefault(
                sku, f"manifest_duplicate_sku: {len(found)} rows that disagree for it (rows {numbers})"
            )
        manifest.warnings.append(f"manifest_duplicate_sku: {shown(sku)} is listed {len(found)} times (rows {numbers})")
    return manifest


def _numbers(numbers: list[int], shown_at_most: int = 10) -> str:
    text = ", ".join(map(str, numbers[:shown_at_most]))
    return text + (f" and {len(numbers) - shown_at_most} more" if len(numbers) > shown_at_most else "")
