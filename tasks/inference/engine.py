"""The try-on engine interface: one call turns a batch of (model photo, garment) samples into
images. Engines are created once per worker process and reused across batches."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.catalog.documents import JsonObject, to_document
from tasks.licences import WeightLicence

log = logging.getLogger(__name__)


NO_WEIGHTS = "none"  # the weights hash of an engine without learned weights


@dataclass(frozen=True)
class Release:
    """Whether an engine's QC-passed images may reach the storefront without a reviewer: only a
    model whose weights the registry marks as released. Everything else is a preview."""

    released: bool
    note: str  # in words, for the report, the review page and the sidecar


@dataclass
class TryOnSample:
    """One generation's inputs, all on the 768x1024 canvas. Arrays may be shared between the
    samples of a batch (the same photo or garment): engines must not modify them."""

    generation_id: str
    category: str
    person: np.ndarray  # (H, W, 3) uint8
    person_mask: np.ndarray  # (H, W) bool
    inpaint_mask: np.ndarray  # (H, W) bool, True = may be repainted
    keypoints: np.ndarray  # (18, 3) COCO-18 x, y, score
    cloth: np.ndarray  # (H, W, 3) uint8, garment on white
    cloth_mask: np.ndarray  # (H, W) bool
    seed: int


@dataclass
class TryOnOutput:
    """One image per sample, in the order given, plus per-sample notes (e.g. fitted
    landmarks) that go into the generation's sidecar."""

    images: list[np.ndarray]
    details: list[JsonObject] = field(default_factory=list)


class Engine(ABC):
    """What every engine states about itself; all of it is recorded with each output.

    Construction must be cheap (matching asks an engine for its identity on a CPU worker);
    an engine with weights loads them on its first ``generate`` and keeps them for as long as
    the process lives. Under Airflow 3 every task instance is a process of its own, so that is
    once per try-on task: ``loads`` and ``load_seconds`` count it, and every try-on task
    records them for the run report.
    """

    name: str
    version: str
    is_baseline: bool
    licence: str
    loads: int = 0  # weight loads this process made (0 for a weightless engine)
    load_seconds: float = 0.0

    @property
    def model_version(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    @abstractmethod
    def weights_sha256(self) -> str:
        """Hash of the weights that make the outputs (``NO_WEIGHTS`` for weightless engines)."""

    @property
    @abstractmethod
    def parameters(self) -> JsonObject:
        """The parameters that change the outputs; part of every generation id."""

    @abstractmethod
    def generate(self, batch: list[TryOnSample]) -> TryOnOutput:
        """Generate one image per sample."""

    @property
    def random_weights(self) -> bool:
        """Whether the weights are random stand-ins (the registry marks them): outputs are noise."""
        return False

    @property
    def release(self) -> Release:
        """Preview unless an engine shows that its weights are released."""
        return Release(False, f"{self.model_version} is not a released model")

    @property
    def weight_licences(self) -> list[WeightLicence]:
        """Each weight file's licence as the registry names it (none for a weightless engine)."""
        return []

    @property
    def made_with(self) -> str:
        """What a generation of this engine is planned under (:func:`made_with`)."""
        return made_with(self.name, self.model_version, self.weights_sha256, self.parameters)

    def describe(self) -> EngineCard:
        return EngineCard(
            engine=self.name,
            engine_version=self.version,
            model_version=self.model_version,
            weights_sha256=self.weights_sha256,
            baseline=self.is_baseline,
            random_weights=self.random_weights,
            licence=self.licence,
            parameters=self.parameters,
            released=self.release.released,
            release_note=self.release.note,
        )


@dataclass(frozen=True)
class EngineCard:
    """What an engine states about itself, recorded in every sidecar it makes and with every
    evaluation of it: the engine, its version and weights, whether it is a baseline or runs on
    random weights, its licence, the parameters that change its outputs, and whether it is
    released (and why or why not). An engine with several weight files names each one's hash,
    and the licences of the base models it builds on."""

    engine: str
    engine_version: str
    model_version: str
    weights_sha256: str
    baseline: bool
    random_weights: bool
    licence: str
    parameters: JsonObject  # the engine's own: free-form, JSON
    released: bool
    release_note: str
    weights: dict[str, str] = field(default_factory=dict)  # weight file -> sha256
    base_model_licences: dict[str, str] = field(default_factory=dict)

    def document(self) -> JsonObject:
        """As a sidecar holds it (the per-file fields only for an engine that has them)."""
        document = to_document(self)
        for name in ("weights", "base_model_licences"):
            if not document[name]:
                del document[name]
        return document


def made_with(engine: str, model_version: str, weights_sha256: str, parameters: JsonObject) -> str:
    """The engine, weights and parameters a generation is planned under, as one comparable text
    (a ledger row's JSON parameters and an engine's own compare equal when they are the same)."""
    return json.dumps([engine, model_version, weights_sha256, parameters], sort_keys=True, default=str)


def planned_otherwise(engine: Engine, row: Any) -> str | None:
    """Why ``engine`` must not make a generation planned under another engine, weights or
    parameters (``row``: its ledger row; superseded, never generated), or None when it may."""
    if engine.made_with == made_with(row.engine, row.model_version, row.weights_sha256, row.parameters):
        return None
    return (
        f"superseded_by_plan: planned with {row.engine} {row.model_version} {row.parameters}, this run's engine is "
        f"{engine.name} {engine.model_version} {engine.parameters}; never generated"
    )


def generate_each(engine: Engine, samples: list[TryOnSample]) -> dict[str, tuple[Any, JsonObject] | str]:
    """generation id -> (image, detail), or the error message of a sample that failed: a batch
    that fails as a whole is tried again one sample at a time, so one bad input fails alone."""
    try:
        output = engine.generate(samples)
        details = output.details or [{}] * len(samples)
        return {s.generation_id: (image, d) for s, image, d in zip(samples, output.images, details)}
    except Exception:
        if len(samples) == 1:
            raise
        log.exception("batch failed as a whole; retrying its samples one by one")
    results: dict[str, tuple[Any, JsonObject] | str] = {}
    for sample in samples:
        try:
            results.update(generate_each(engine, [sample]))
        except Exception as error:
            results[sample.generation_id] = f"engine_error: {error}"
    return results
