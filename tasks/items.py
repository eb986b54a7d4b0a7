"""The garments that garment_drop's stages pass to each other through XCom (the contract that
crosses a task boundary: the dataclasses themselves, ``tasks.airflow_glue.xcom``), and the
ledger writes every stage makes of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeGuard, TypeVar

from tasks.context import RunContext
from tasks.ledger import Garment, GarmentState, row_of
from tasks.states import move
from tasks.storage import quarantine_prefix


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

    def __post_init__(self) -> None:
        """An item a stage after validation receives (made here or read back from XCom) without
        its image, category or hash did not pass validation, and is refused by name."""
        missing = [name for name in ("image_key", "category", "sha256") if not getattr(self, name)]
        if missing:
            raise ValueError(f"item {self.sku!r} reached a stage after validation without its {', '.join(missing)}")

    @classmethod
    def of(cls, item: DropItem) -> AcceptedItem:
        """A discovered item that validation let through (with its image, category and hash)."""
        return cls(**asdict(item))


T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in order, in chunks of at most ``size``: the work of one mapped task each of a
    CPU stage (``Settings.chunk_size``). Nothing is no chunk."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def made_so(record: Mapping[str, Any] | None, made_by: Mapping[str, object]) -> TypeGuard[Mapping[str, Any]]:
    """Whether a kept record (a verdict, what preprocessing made) was made by ``made_by``: it
    holds each of its keys with that value."""
    return record is not None and all(record.get(key) == value for key, value in made_by.items())


def quarantine(ctx: RunContext, date: str, item: DropItem | AcceptedItem, reason: str, keys: list[str]) -> None:
    """Keep the original bytes and a reason.json under quarantine/{date}/{sku}/, for the
    catalogue team to see what was refused and why."""
    prefix = quarantine_prefix(date, item.sku)
    for key in keys:
        ctx.store.copy(key, prefix + key.rsplit("/", 1)[-1])
    ctx.store.put_json(prefix + "reason.json", {"date": date, "sku": item.sku, "reason": reason, "files": keys})
    set_garment_state(ctx, item.garment_id, GarmentState.QUARANTINED, reason)


def set_garment_state(ctx: RunContext, garment_id: int, state: GarmentState, reason: str | None = None) -> None:
    with ctx.ledger.session() as session:
        garment = row_of(session, Garment, garment_id)
        move(garment, state, reason)
