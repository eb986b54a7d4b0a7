"""The LaDI-VTON engine: the model the product serves, behind the ``Engine`` interface.

Construction only reads the model registry and imports no torch (matching, publishing and the
report ask for the engine's identity on CPU workers); the first ``generate`` loads every module
strictly and keeps the pipeline for the life of the process, which under Airflow 3 is one try-on
shard (``loads`` and ``load_seconds`` count it; the run report shows them per shard). A batch is generated in chunks of ``batch_size`` samples, each chunk one
pipeline call (classifier-free guidance as one UNet forward of 2N); a CUDA out-of-memory halves
the chunk and tries again, and the smaller size is kept.

Inputs come on the 768x1024 canvas and are resized to the model's 384x512; the 384x512 result
is upscaled back and, with ``paste_back``, put inside the inpaint region of the full-resolution
photo (outside it the photo's own pixels stay), which every output records.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from tasks.catalog.documents import JsonObject
from tasks.inference.engine import Engine, EngineCard, Release, TryOnOutput, TryOnSample
from tasks.inference.ladi_vton.registry import LICENCE, MODEL_HEIGHT, MODEL_WIDTH, combined_sha256, registry_entries
from tasks.licences import WeightLicence
from tasks.settings import Settings

if TYPE_CHECKING:
    import torch

    from tasks.inference.ladi_vton.pipeline_ladi_vton import LadiVtonPipeline

log = logging.getLogger(__name__)


class LadiVtonEngine(Engine):
    name = "ladi-vton"
    is_baseline = False
    licence = LICENCE

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dataset = settings.ladi_vton_dataset
        self.entries = registry_entries(settings, self.dataset)
        self.version = f"{self.dataset}-{self.entries['unet'].version}"
        self.chunk_size = settings.batch_size
        self._pipeline: LadiVtonPipeline | None = None

    @property
    def weights_sha256(self) -> str:
        return combined_sha256(self.entries)

    @property
    def parameters(self) -> JsonObject:
        s = self.settings
        return {
            "dataset": self.dataset,
            "steps": s.inference_steps,
            "guidance_scale": s.guidance_scale,
            "scheduler": s.scheduler,
            "precision": s.precision,
            "resolution": [MODEL_HEIGHT, MODEL_WIDTH],
            "paste_back": True,
        }

    @property
    def random_weights(self) -> bool:
        return any(e.random_weights for e in self.entries.values())

    @property
    def release(self) -> Release:
        random = sorted(e.name for e in self.entries.values() if e.random_weights)
        if random:
            return Release(
                False, f"{self.model_version} runs on random weights ({', '.join(random)}): its images are noise, previews only"
            )
        unreleased = sorted(e.name for e in self.entries.values() if not e.released)
        if unreleased:
            return Release(
                False, f"{self.model_version} is not released in the model registry ({', '.join(unreleased)} not marked released)"
            )
        return Release(True, f"{self.model_version}, released in the model registry (licence {self.licence})")

    @property
    def weight_licences(self) -> list[WeightLicence]:
        return [entry.weight_licence for entry in self.entries.values()]

    def describe(self) -> EngineCard:
        return replace(
            super().describe(),
            weights={e.name: e.sha256 for e in self.entries.values()},
            base_model_licences={e.name: e.licence for p, e in self.entries.items() if p in ("base", "image_encoder")},
        )

    @property
    def pipeline(self) -> LadiVtonPipeline:
        """Loaded once per process, on first use (torch and the modules are imported only here:
        a CPU worker that asks for the engine's identity never imports them)."""
        if self._pipeline is None:
            import torch

            from tasks.inference.ladi_vton.components import load_components
            from tasks.inference.ladi_vton.tensors import resolve_device, resolve_precision

            started = time.perf_counter()
            device = resolve_device(self.settings.device)
            dtype = resolve_precision(self.settings.precision, device)
            components = load_components(self.settings, self.dataset, str(device))
            pipe = components.pipeline(self.settings.scheduler).to(device, dtype)
            if self.settings.torch_compile:
                pipe.unet = torch.compile(pipe.unet)
            self._pipeline = pipe
            seconds = time.perf_counter() - started
            self.loads += 1
            self.load_seconds += seconds
            log.info("LaDI-VTON (%s) loaded on %s in %s in %.1f s", self.dataset, device, dtype, seconds)
        return self._pipeline

    def _call(self, samples: list[TryOnSample]) -> tuple[torch.Tensor, dict[str, float]]:
        import torch

        from tasks.inference.ladi_vton.tensors import sample_tensors

        generators = [torch.Generator().manual_seed(s.seed) for s in samples]
        out = self.pipeline(
            **sample_tensors(samples),
            categories=[s.category for s in samples],
            generators=generators,
            num_inference_steps=self.settings.inference_steps,
            guidance_scale=self.settings.guidance_scale,
        )
        return out.images, out.timings

    def generate(self, batch: list[TryOnSample]) -> TryOnOutput:
        import torch

        from tasks.inference.ladi_vton.tensors import paste_back

        images: list[np.ndarray] = []
        details: list[JsonObject] = []
        start = 0
        while start < len(batch):
            chunk = batch[start : start + self.chunk_size]
            try:
                generated, timings = self._call(chunk)
            except torch.OutOfMemoryError:
                if self.chunk_size == 1:
                    raise
                self.chunk_size //= 2
                log.warning("CUDA out of memory at %d samples per call; now %d", len(chunk), self.chunk_size)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            pipe = self.pipeline
            pixels = (generated.permute(0, 2, 3, 1).float().cpu().numpy() * 255 + 0.5).astype(np.uint8)
            for sample, image in zip(chunk, pixels):
                images.append(paste_back(image, sample.person, sample.inpaint_mask))
                details.append(
                    {
                        "device": str(pipe.device),
                        "precision": str(pipe.dtype).removeprefix("torch."),
                        "samples_per_call": len(chunk),
                        "seconds_per_sample": {k: round(v / len(chunk), 4) for k, v in timings.items()},
                    }
                )
            start += len(chunk)
        return TryOnOutput(images=images, details=details)
