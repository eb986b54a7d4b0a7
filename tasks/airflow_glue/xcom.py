"""What crosses XCom between the DAGs' tasks: garment_drop's typed items and shards
(``tasks.items``, ``tasks.inference.shard``) and a try-on task's figures, model_library's
chunk counts and build (``tasks.catalog.library_build``), evaluate's plan and what its tasks
made (``tasks.evaluation.plan``), the rights sweep (``tasks.storefront.withdrawals``), as the
dataclasses themselves. Airflow's serde
writes a dataclass as its fields with its class name and builds the class again on the other
side (``AcceptedItem`` checks its fields there); it builds only classes it is allowed to, so
every process that parses the DAG allows these, and only these, at import."""

from __future__ import annotations

from airflow.sdk.serde import allow_class

from tasks.catalog.library_build import LibraryBuild, PhotoCounts
from tasks.catalog.run_summary import ShardFigures
from tasks.evaluation.plan import EvaluationDone, EvaluationPlan, VersionMade
from tasks.inference.shard import Shard
from tasks.items import AcceptedItem, DropItem
from tasks.storefront.withdrawals import RightsSweep

XCOM_CLASSES = (
    DropItem,
    AcceptedItem,
    Shard,
    ShardFigures,
    PhotoCounts,
    LibraryBuild,
    EvaluationPlan,
    VersionMade,
    EvaluationDone,
    RightsSweep,
)


def allow_xcom_classes() -> None:
    for kind in XCOM_CLASSES:
        allow_class(kind)
