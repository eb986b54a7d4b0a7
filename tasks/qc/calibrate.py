"""Fitting the generation suite's bounds to images people labelled: the QC benchmark's cases and
reviewers' decisions (approvals, rejections, spot-check misses).

The fit starts from a suite (the current one) and moves bounds only as far as the labels ask, so
an expectation the labels say nothing about keeps the bound it has:

1. **loosen**: a bound that flags a positive (an image a person would publish) moves past the
   positives' edge, by a quarter of their spread beyond their median;
2. **tighten**: each expectation catches the negatives a person saw fail it (their ``failures``
   name it) that lie between the positives' edge and its bound: the bound goes halfway
   (``TIGHTEN_AT``) from the positives' edge to the nearest of them, the widest margin on both
   sides, so a milder image of the same kind is caught too. It never goes closer to the positives than
   ``KEEP_ROOM`` of the room the prior left them, nor than their own spread (``KEEP_SPREAD``):
   the prior's room is what it knows of good images no label shows (the benchmark's positives
   are real photos, better than any engine's output). A negative that lies that close to the
   positives on every expectation it names is left (the report counts it).

A fixed size (``min == max``) and an ``equals`` expectation are facts, not fits: they stay. :func:`score` judges labelled rows with the suite exactly as the QC stage does
(Great Expectations over the metrics table), so a calibration is compared with its prior on the
same footing; ``bench/qc.py`` and ``tryon qc calibrate`` both score on folds the fit never saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tasks.catalog.qc_table import TableRow
from tasks.qc.suite import Expectation, SuiteConfig, validate_generations

LOOSEN_MARGIN = 0.25  # past the positives' edge: this share of their spread beyond their median
TIGHTEN_AT = 0.5  # a tightened bound: halfway from the positives' edge to the nearest negative it catches
KEEP_ROOM = 0.25  # a tightened bound keeps at least this share of the room its prior left past the positives
KEEP_SPREAD = 1.0  # and at least this many times the positives' own spread beyond their median past their edge
HELD_OUT: dict[str, int | None] = {"photo": None, "garment": 4}  # folds: each model photo; each quarter of the garments


@dataclass(frozen=True)
class LabelledRow:
    """One image's metrics row (with ``generation_id`` and ``category``) and what a person said of it."""

    row: TableRow
    positive: bool
    failures: frozenset[str] = frozenset()  # the expectations a person saw it fail (a negative's failure modes)
    groups: tuple[tuple[str, str], ...] = ()  # (fold kind, key): the photo, the garment it shows

    @property
    def generation_id(self) -> str:
        return str(self.row["generation_id"])

    def group(self, kind: str) -> str:
        return dict(self.groups).get(kind, "")


def _value(spec: Expectation, row: TableRow) -> float | None:
    value = row.get(spec.column)
    if value is None or isinstance(value, str) or math.isnan(float(value)):
        return None
    return float(value)


def _fitted(spec: Expectation) -> bool:
    return spec.equals is None and not (spec.min is not None and spec.min == spec.max)


def _positive_values(spec: Expectation, labels: Sequence[LabelledRow]) -> np.ndarray:
    values = [_value(spec, label.row) for label in labels if label.positive and spec.applies(label.row)]
    return np.array([v for v in values if v is not None], float)


def _rounded(value: float) -> float:
    return float(f"{value:.4g}")


def loosen(bound: float, side: str, positives: np.ndarray) -> float:
    """``bound`` moved past the positives it flags (see the module's docstring); unchanged when it flags none."""
    if not len(positives):
        return bound
    sign = 1.0 if side == "max" else -1.0  # on the max side: a min bound is a max bound of -value
    edge = float((sign * positives).max())
    if sign * bound >= edge:
        return bound
    spread = edge - float(np.median(sign * positives))
    return _rounded(sign * (edge + LOOSEN_MARGIN * spread + 1e-9 * max(1.0, abs(edge))))


@dataclass(frozen=True)
class _Edge:
    """The training positives' extreme on one side of one expectation, and how close to it a
    tightened bound may go."""

    edge: float
    limit: float  # the tightest bound allowed (KEEP_ROOM, KEEP_SPREAD)


def _edges(spec: Expectation, positives: np.ndarray) -> dict[str, _Edge]:
    found = {}
    for side, sign in (("max", 1.0), ("min", -1.0)):
        bound = getattr(spec, side)
        if bound is None:
            continue
        edge = float((sign * positives).max())
        spread = edge - float(np.median(sign * positives))
        room = sign * bound - edge
        found[side] = _Edge(sign * edge, sign * (edge + max(KEEP_ROOM * room, KEEP_SPREAD * spread)))
    return found


def tighten(bound: float, side: str, edge: _Edge, negatives: list[float]) -> float:
    """``bound`` moved to catch the nearest of ``negatives`` it passes and may catch (see the
    module's docstring); unchanged when there is none."""
    sign = 1.0 if side == "max" else -1.0
    catchable = [
        value
        for value in negatives
        if sign * edge.edge < sign * value <= sign * bound
        and sign * (edge.edge + TIGHTEN_AT * (value - edge.edge)) >= sign * edge.limit
    ]
    if not catchable:
        return bound
    nearest = min(catchable, key=lambda value: sign * value)
    return _rounded(edge.edge + TIGHTEN_AT * (nearest - edge.edge))


def _with_bound(spec: Expectation, side: str, value: float) -> Expectation:
    return replace(spec, min=value) if side == "min" else replace(spec, max=value)


def fit(prior: SuiteConfig, labels: Sequence[LabelledRow], version: int) -> SuiteConfig:
    """A new version of ``prior`` with its bounds fitted to ``labels``."""
    negatives = [label for label in labels if not label.positive and label.failures]
    fitted = []
    for spec in prior.expectations:
        positives = _positive_values(spec, labels)
        if _fitted(spec) and len(positives):
            named = [_value(spec, n.row) for n in negatives if spec.name in n.failures and spec.applies(n.row)]
            named_values = [v for v in named if v is not None]
            for side in ("min", "max"):
                if getattr(spec, side) is not None:
                    spec = _with_bound(spec, side, loosen(getattr(spec, side), side, positives))
            for side, edge in _edges(spec, positives).items():  # each side tightened from where loosening left it
                spec = _with_bound(spec, side, tighten(getattr(spec, side), side, edge, named_values))
        fitted.append(spec)
    return replace(prior, version=version, expectations=tuple(fitted))


@dataclass
class Score:
    """How a suite judged labelled rows."""

    positives: int = 0
    positives_flagged: int = 0
    negatives: int = 0
    negatives_flagged: int = 0
    by_failure: dict[str, list[int]] = field(default_factory=dict)  # failure mode -> [negatives, flagged]
    missed: list[str] = field(default_factory=list)  # generation ids of negatives that passed
    false_flags: list[str] = field(default_factory=list)  # generation ids of positives flagged

    @property
    def catch_rate(self) -> float:
        return self.negatives_flagged / self.negatives if self.negatives else float("nan")

    @property
    def false_flag_rate(self) -> float:
        return self.positives_flagged / self.positives if self.positives else float("nan")


def verdicts(config: SuiteConfig, labels: Sequence[LabelledRow]) -> dict[str, list[str]]:
    """generation id -> the expectations ``config`` fails it on (Great Expectations, as the stage runs it)."""
    if not labels:
        return {}
    return validate_generations(pd.DataFrame([label.row for label in labels]), config).failed


def score(config: SuiteConfig, labels: Sequence[LabelledRow]) -> Score:
    failed = verdicts(config, labels)
    result = Score()
    for label in labels:
        flagged = bool(failed.get(label.generation_id))
        if label.positive:
            result.positives += 1
            result.positives_flagged += flagged
            if flagged:
                result.false_flags.append(label.generation_id)
            continue
        result.negatives += 1
        result.negatives_flagged += flagged
        if not flagged:
            result.missed.append(label.generation_id)
        for failure in label.failures or {"unnamed"}:
            tally = result.by_failure.setdefault(failure, [0, 0])
            tally[0] += 1
            tally[1] += flagged
    return result


@dataclass
class Fold:
    """One held-out fold: the prior's and the fitted suite's scores on rows the fit never saw."""

    kind: str  # "photo" or "garment"
    key: str
    prior: Score
    fitted: Score


def folds(kind: str, labels: Sequence[LabelledRow], count: int | None = None) -> list[tuple[str, list[int]]]:
    """(fold key, row indices) holding out each ``kind`` group (``count``: groups dealt round-robin
    into that many folds, in sorted order; None: one fold per group)."""
    keys = sorted({label.group(kind) for label in labels})
    names = {key: (key if count is None else f"{kind}-fold-{i % count + 1}") for i, key in enumerate(keys)}
    held: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        held.setdefault(names[label.group(kind)], []).append(index)
    return sorted(held.items())


def cross_validate(
    prior: SuiteConfig, labels: Sequence[LabelledRow], kinds: dict[str, int | None] = HELD_OUT, version: int | None = None
) -> list[Fold]:
    """For each fold of each kind (kind -> fold count, None: one per group): fit on the other
    rows, score the prior and the fit on the fold."""
    results = []
    for kind, count in kinds.items():
        for key, held in folds(kind, labels, count):
            out = set(held)
            train = [label for i, label in enumerate(labels) if i not in out]
            test = [labels[i] for i in held]
            fitted = fit(prior, train, version if version is not None else prior.version + 1)
            results.append(Fold(kind, key, score(prior, test), score(fitted, test)))
    return results
