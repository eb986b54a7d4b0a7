"""The garments that garment_drop's stages pass to each other through XCom (the contract that
crosses a task boundary), and the ledger writes every stage makes of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypeGuard

from tasks.context import RunContext
from tasks.ledger import Garment, GarmentState, row_of
from tasks.states import move


@dataclass
class DropItem:
    """One SKU of a drop as discovery found it: its image or category may be missing (then it
    is quarantined there) and its content is not hashed yet."""

    sku: str
    garment_id: int
    image_key: str | None
    category: str | None
    sha256: str | None = None
    extra_keys: list[str] = field(default_factory=list)
    image_version: str | None = None  # the primary image's ``drops.content_version`` in the drop's listing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, raw: dict[str, Any]) -> DropItem:
        return cls(**raw)


@dataclass
class AcceptedItem:
    """A SKU that validation accepted: an image, a category and the image's sha256, always."""

    sku: str
    garment_id: int
    image_key: str
    category: str
    sha256: str
    extra_keys: list[str] = field(default_factory=list)
    image_version: str | None = None

    @classmethod
    def from_xcom(cls, raw: dict[str, Any]) -> AcceptedItem:
        """The item a stage after validation receives; one without its image, category or hash
        did not pass validation, and is refused by name."""
        missing = [name for name in ("image_key", "category", "sha256") if not raw.get(name)]
        if missing:
            raise ValueError(f"item {raw.get('sku')!r} reached a stage after validation without its {', '.join(missing)}")
        return cls(**raw)

    @classmethod
    def of(cls, item: DropItem) -> AcceptedItem:
        """A discovered item that validation let through (with its image, category and hash)."""
        return cls.from_xcom(item.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def made_so(record: dict[str, Any] | None, made_by: dict[str, Any]) -> TypeGuard[dict[str, Any]]:
    """Whether a kept record (a verdict, what preprocessing made) was made by ``made_by``: it
    holds each of its keys with that value."""
    return record is not None and all(record.get(key) == value for key, value in made_by.items())


def set_garment_state(ctx: RunContext, garment_id: int, state: GarmentState, reason: str | None = None) -> None:
    with ctx.ledger.session() as session:
        garment = row_of(session, Garment, garment_id)
        move(garment, state, reason)
