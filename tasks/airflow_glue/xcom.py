"""What crosses XCom between garment_drop's tasks: the typed items and shards of the stages
(``tasks.items``, ``tasks.inference.shard``), written as their JSON objects and read back into
the same types, validated, on the other side. Plain JSON keeps every deployment's XCom readable
without allowing this project's classes in Airflow's deserializer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tasks.inference.shard import Shard
from tasks.items import AcceptedItem, DropItem


def to_xcom(values: Sequence[DropItem | AcceptedItem | Shard]) -> list[dict[str, Any]]:
    return [value.to_dict() for value in values]


def drop_items(raw: list[dict[str, Any]]) -> list[DropItem]:
    return [DropItem.from_xcom(item) for item in raw]


def accepted_items(raw: list[dict[str, Any]]) -> list[AcceptedItem]:
    return [AcceptedItem.from_xcom(item) for item in raw]


def shard(raw: dict[str, Any]) -> Shard:
    return Shard.from_dict(raw)
