"""The storefront manifest of a drop date (``storefront/manifests/{date}.json``): every storefront
object the date stands behind, as the storefront reads it. ``items``: the live publications of
its generations; ``outfits``: its published full-outfit images; ``look_files``: the look files
of its SKUs on the storefront; ``count``: how many items. The storefront gate writes it
(``tasks.storefront.objects.write_manifest``); the audit and the demo's export read it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


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

    def to_document(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "count": len(self.items),
            "items": [asdict(item) for item in self.items],
            "outfits": [asdict(outfit) for outfit in self.outfits],
            "look_files": [asdict(look_file) for look_file in self.look_files],
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> StorefrontManifest:
        """A manifest as read back; one written before a section existed has that section empty,
        and a field this version does not know is left out."""
        return cls(
            date=document["date"],
            items=[_known(ManifestItem, item) for item in document.get("items", [])],
            outfits=[_known(OutfitItem, outfit) for outfit in document.get("outfits", [])],
            look_files=[_known(LookFileItem, look_file) for look_file in document.get("look_files", [])],
        )


def _known(kind: Any, entry: dict[str, Any]) -> Any:
    return kind(**{f.name: entry.get(f.name) for f in fields(kind)})
