"""The storefront manifest of a drop date (``storefront/manifests/{date}.json``): every storefront
object the date stands behind, as the storefront reads it. ``items``: the live publications of
its generations; ``outfits``: its published full-outfit images; ``look_files``: the look files
of its SKUs on the storefront; ``count``: how many items. The storefront gate writes it
(``tasks.storefront.objects.write_manifest``); the audit and the demo's export read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.catalog.documents import JsonObject, from_document, to_document


@dataclass(frozen=True)
class ManifestItem:
    """A generation's image in its storefront slot, with what made it."""

    sku: str
    photo_id: str
    key: str
    generation_id: str
    category: str
    engine: str
    model_version: str
    weights_sha256: str
    seed: int


@dataclass(frozen=True)
class OutfitItem:
    """A full-outfit image (``storefront/looks/{look_id}/{photo_id}.jpg``), with what made it."""

    look_id: str
    photo_id: str
    key: str
    generation_id: str
    upper_sku: str
    lower_sku: str
    engine: str
    model_version: str
    weights_sha256: str
    seed: int


@dataclass(frozen=True)
class LookFileItem:
    sku: str
    key: str


@dataclass
class StorefrontManifest:
    date: str
    items: list[ManifestItem] = field(default_factory=list)
    outfits: list[OutfitItem] = field(default_factory=list)
    look_files: list[LookFileItem] = field(default_factory=list)

    def keys(self) -> list[str]:
        """Every storefront object the manifest lists."""
        return [entry.key for section in (self.items, self.outfits, self.look_files) for entry in section]

    def to_document(self) -> JsonObject:
        """The file: the date, how many items, then the sections."""
        sections = to_document(self)
        return {"date": self.date, "count": len(self.items), **{k: v for k, v in sections.items() if k != "date"}}


def read_manifest(document: object) -> StorefrontManifest:
    """A manifest as read back; one written before a section existed has that section empty, a
    field this version does not know is left out, and ``count`` is derived, not read."""
    return from_document(StorefrontManifest, document)
