"""Planning the night's try-on shards: few of them, about equal, batches that never mix a
category and cluster, and the contract that crosses XCom."""

import json
from types import SimpleNamespace

import pytest

from tasks.airflow_glue.runner import DAGS_FOLDER
from tasks.inference.shard import Shard, plan_shards, shard_count
from tasks.items import AcceptedItem, DropItem
from tasks.settings import Settings


def _groups(*sizes: int) -> list[list[str]]:
    return [[f"g{g}-{i}" for i in range(size)] for g, size in enumerate(sizes)]


def test_batches_keep_their_group_and_order():
    [shard] = plan_shards(_groups(5, 3), batch_size=2, count=1)
    assert shard.batches == [["g0-0", "g0-1"], ["g0-2", "g0-3"], ["g0-4"], ["g1-0", "g1-1"], ["g1-2"]]
    assert shard.generation_ids == [f"g0-{i}" for i in range(5)] + [f"g1-{i}" for i in range(3)]


@pytest.mark.parametrize("sizes,count", [((40, 40, 40, 8), 2), ((100,), 4), ((7, 9, 64, 3, 30), 3)])
def test_shards_are_contiguous_and_about_equal(sizes, count):
    groups = _groups(*sizes)
    shards = plan_shards(groups, batch_size=8, count=count)
    assert [s.index for s in shards] == list(range(count))
    assert [gid for s in shards for gid in s.generation_ids] == [gid for g in groups for gid in g], "every id once, in order"
    sizes_of = [len(s.generation_ids) for s in shards]
    assert all(abs(size - sum(sizes) / count) <= 8 for size in sizes_of), sizes_of  # each within a batch of its share


def test_never_more_shards_than_batches_and_none_for_an_empty_night():
    shards = plan_shards(_groups(3), batch_size=2, count=5)
    assert [s.batches for s in shards] == [[["g0-0", "g0-1"]], [["g0-2"]]]
    assert plan_shards([], batch_size=8, count=3) == []


def test_one_shard_per_pool_slot_but_none_below_the_size_worth_a_load():
    settings = Settings(gpu_pool_slots=4, shards_per_gpu_slot=2, shard_min_generations=64)
    assert shard_count(10, settings) == 1
    assert shard_count(64 * 3 + 5, settings) == 3
    assert shard_count(100_000, settings) == 8


def test_the_stages_items_survive_the_round_trip_through_xcom():
    """What crosses XCom is the dataclasses themselves, through Airflow's own serde (allowed by
    the DAG's import, as in every task process); an item that did not pass validation is
    refused on the other side."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.bases.xcom import BaseXCom

    DagBag(dag_folder=str(DAGS_FOLDER / "garment_drop.py"))

    shard = Shard(3, [["a", "b"], ["c"]])
    item = AcceptedItem(sku="TEE-1", garment_id=1, image_key="k", category="upper_body", sha256="a" * 64)
    found = DropItem(sku="TEE-2", garment_id=2, image_key=None, category=None)
    assert _through_xcom([shard, item, found]) == [shard, item, found]
    assert shard.label == "shard 3: 3 generations in 2 batches"
    with pytest.raises(ValueError, match="reached a stage after validation without its image_key, category, sha256"):
        _through_xcom([found], passed_off_as=AcceptedItem)
    with pytest.raises(ImportError, match="allow list"):  # no other class of the project is built from XCom
        BaseXCom.deserialize_value(SimpleNamespace(value=BaseXCom.serialize_value(Settings())))


def _through_xcom(values: list[object], passed_off_as: type | None = None) -> object:
    """``values`` pushed and pulled as the task SDK does: serialized, stored as JSON, read back
    (optionally with the stored class name changed, as a tampered or mixed-up XCom would be)."""
    from airflow.sdk.bases.xcom import BaseXCom

    stored = json.dumps(BaseXCom.serialize_value(values))
    if passed_off_as is not None:
        stored = stored.replace('"tasks.items.DropItem"', f'"{passed_off_as.__module__}.{passed_off_as.__name__}"')
    return BaseXCom.deserialize_value(SimpleNamespace(value=json.loads(stored)))
