"""The ``null`` engine: returns each model photo unchanged. It exists to measure the pipeline
around an engine (``bench/drop_scale.py``): every stage runs as it would, the engine costs
nothing. It is a baseline and never a released model, so nothing it makes reaches the
storefront without a reviewer, and QC flags its images (no garment was put on anyone)."""

from __future__ import annotations

from tasks.catalog.documents import JsonObject
from tasks.inference.engine import NO_WEIGHTS, Engine, Release, TryOnOutput, TryOnSample


class NullEngine(Engine):
    name = "null"
    version = "1.0.0"
    is_baseline = True
    licence = "Apache-2.0 (project code, no weights)"

    @property
    def weights_sha256(self) -> str:
        return NO_WEIGHTS

    @property
    def parameters(self) -> JsonObject:
        return {}

    @property
    def release(self) -> Release:
        return Release(False, "null is a measuring baseline that returns the photo unchanged: never publishable")

    def generate(self, batch: list[TryOnSample]) -> TryOnOutput:
        return TryOnOutput(images=[sample.person.copy() for sample in batch], details=[{"null": True} for _ in batch])
