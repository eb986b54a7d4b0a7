"""A try-on shard: the unit of work of one try-on task (one mapped task instance).

Under Airflow 3 every task instance is a process of its own, so an engine with weights loads
them once per task. A shard therefore holds minutes to hours of GPU work, not one batch: matching
plans about one shard per slot of the try-on pool (``gpu_pool_slots`` x ``shards_per_gpu_slot``),
never a shard smaller than ``shard_min_generations`` unless the night has fewer, and the shard's
batches (``batch_size`` generations per engine call) keep one category and cluster each. The
shard crosses XCom from ``match`` to ``tryon``; this module is the contract both import.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.settings import Settings


@dataclass(frozen=True)
class Shard:
    index: int
    batches: list[list[str]]  # generation ids, one engine call per batch, in order

    @property
    def generation_ids(self) -> list[str]:
        return [gid for batch in self.batches for gid in batch]

    @property
    def label(self) -> str:
        """What the Airflow UI shows for the mapped task."""
        return f"shard {self.index}: {len(self.generation_ids)} generations in {len(self.batches)} batches"


def shard_count(generations: int, settings: Settings) -> int:
    """How many shards a night of ``generations`` gets: one per pool slot (or a few), but no shard
    below the size worth a weight load."""
    wanted = settings.gpu_pool_slots * settings.shards_per_gpu_slot
    return max(1, min(wanted, generations // settings.shard_min_generations))


def plan_shards(groups: list[list[str]], batch_size: int, count: int) -> list[Shard]:
    """Cut ``groups`` (generation ids of one category and cluster each, in the order to run them)
    into batches of at most ``batch_size`` that never mix groups, and deal the batches in order
    into ``count`` shards of about equal size (contiguous: a shard holds few clusters)."""
    batches = [ids[i : i + batch_size] for ids in groups for i in range(0, len(ids), batch_size)]
    total = sum(len(batch) for batch in batches)
    dealt: list[list[list[str]]] = [[] for _ in range(max(1, count))]
    done = 0
    for batch in batches:  # to the shard its middle falls in
        dealt[min(len(dealt) - 1, (2 * done + len(batch)) * len(dealt) // (2 * total))].append(batch)
        done += len(batch)
    return [Shard(index, shard) for index, shard in enumerate(s for s in dealt if s)]
