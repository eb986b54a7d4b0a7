"""A drop's listing: everything under ``drops/{date}/``. Discovery records one ledger row per
input it finds here, and the run report holds the ledger against the same listing, so an input
that was never recorded shows up as a report that does not add up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasks.context import RunContext
from tasks.images import sha256_hex
from tasks.storage import ObjectInfo, drop_prefix

SAFE_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class DropListing:
    """Everything under ``drops/{date}/``: the SKU folders with their keys, the drop's
    ``manifest.csv`` (if any), its completion marker (``Settings.drop_marker``, if written) and
    every other file at the drop's root (each one an input too)."""

    by_sku: dict[str, list[str]] = field(default_factory=dict)
    root_files: list[str] = field(default_factory=list)
    manifest_key: str | None = None
    marker_key: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # key -> its content's version as listed (``content_version``)

    def input_labels(self) -> list[str]:
        """The ledger's garment ``sku`` of every input of the listing, one per input."""
        return sorted(
            [ledger_label(sku) for sku in self.by_sku] + [ledger_label(key.rsplit("/", 1)[-1]) for key in self.root_files]
        )


def content_version(info: ObjectInfo) -> str:
    """An object's content as a listing names it (ETag and size): another upload of other bytes
    under the same key has another one, so a verdict kept with it holds while it is the same."""
    return f"{info.etag}:{info.size}"


def ledger_label(name: str) -> str:
    """The name a drop entry is recorded under: itself when safe, else a hash of it."""
    return name if SAFE_SKU.fullmatch(name) else f"unsafe-{sha256_hex(name.encode())[:12]}"


def list_drop(ctx: RunContext, date: str) -> DropListing:
    prefix = drop_prefix(date)
    listing = DropListing()
    for key, info in ctx.store.list_objects(prefix):
        listing.versions[key] = content_version(info)
        sku, _, name = key[len(prefix) :].partition("/")
        if name:
            listing.by_sku.setdefault(sku, []).append(key)
        elif sku == "manifest.csv":
            listing.manifest_key = key
        elif sku == ctx.settings.drop_marker:
            listing.marker_key = key
        else:
            listing.root_files.append(key)
    return listing
