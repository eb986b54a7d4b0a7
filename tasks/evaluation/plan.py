"""What the ``evaluate`` DAG's tasks hand each other through XCom: the run's plan (which set,
which versions, which pairs) and what each version's task made."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EvaluationPlan:
    evaluation_id: str
    set: str
    versions: list[str]
    limit: int | None = None  # the first N paired and N unpaired pairs per category
    categories: list[str] | None = None  # only these (None: all)


@dataclass(frozen=True)
class VersionMade:
    spec: str
    images: int
    failed: int


@dataclass(frozen=True)
class EvaluationDone:
    """What the run leaves in XCom: the comparison page, its warnings, and each version's count."""

    page: str
    warnings: list[str] = field(default_factory=list)
    versions: list[VersionMade] = field(default_factory=list)
