"""The try-on engine interface: one call turns a batch of (model photo, garment) samples into
images. Engines are created once per worker process and reused across batches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.settings import Settings


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
    details: list[dict[str, Any]] = field(default_factory=list)


class Engine(ABC):
    """What every engine states about itself; all of it is recorded with each output.

    Construction must be cheap (matching asks an engine for its identity on a CPU worker);
    an engine with weights loads them on its first ``generate`` and keeps them.
    """

    name: str
    version: str
    is_baseline: bool
    licence: str

    @property
    def model_version(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    @abstractmethod
    def weights_sha256(self) -> str:
        """Hash of the weights that make the outputs ("none" for weightless engines)."""

    @property
    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The parameters that change the outputs; part of every generation id."""

    @abstractmethod
    def generate(self, batch: list[TryOnSample]) -> TryOnOutput:
        """Generate one image per sample."""

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "engine_version": self.version,
            "model_version": self.model_version,
            "weights_sha256": self.weights_sha256,
            "baseline": self.is_baseline,
            "licence": self.licence,
            "parameters": self.parameters,
        }


ENGINES = ("warp-baseline", "ladi-vton")
# the settings an engine is built from: a process keeps one engine per distinct combination
ENGINE_SETTINGS = ("engine", "model_registry", "model_dir", "batch_size", "ladi_vton_dataset", "inference_steps", "guidance_scale",
                   "scheduler", "precision", "device", "torch_compile")
_ENGINES: dict[tuple[Any, ...], Engine] = {}


def _build(settings: Settings) -> Engine:
    if settings.engine == "warp-baseline":
        from tasks.inference.warp_baseline import WarpBaselineEngine

        return WarpBaselineEngine()
    if settings.engine == "ladi-vton":
        from tasks.inference.ladi_vton.engine import LadiVtonEngine

        return LadiVtonEngine(settings)
    raise ValueError(f"unknown engine {settings.engine!r}; available: {', '.join(ENGINES)}")


def get_engine(settings: Settings) -> Engine:
    """The process's engine for these settings, built on first use and then kept: a worker
    loads weights once and reuses them for every batch (and mapped task) it runs."""
    key = tuple(getattr(settings, name) for name in ENGINE_SETTINGS)
    if key not in _ENGINES:
        _ENGINES[key] = _build(settings)
    return _ENGINES[key]
