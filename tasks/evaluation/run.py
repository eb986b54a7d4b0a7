"""One model version evaluated on one set: every pair generated, the paired and unpaired metrics
per category, the time per image and the QC pass rate of the same generations.

A model version is the engine with the settings that change its outputs, written
``ENGINE[/DATASET][:setting=value,...]`` (``ladi-vton/dresscode:inference_steps=20,scheduler=dpm-solver++``);
the settings are the run overrides a backfill takes, and ``model_registry=PATH`` for weights
registered in another file (a new checkpoint of the same dataset). Each version's images and its
``result.json`` go under ``reports/evaluations/{id}/{version}/``.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tasks.catalog.documents import to_document
from tasks.catalog.qc_table import TableRow
from tasks.evaluation.features import InceptionFeatures, NetworkInfo, load_lpips
from tasks.evaluation.metrics import fid, kid, ssim
from tasks.evaluation.sets import EvalPair, EvalSet, View, load_cloth, load_view, read_set
from tasks.images import encode_jpeg
from tasks.inference.engine import EngineCard
from tasks.settings import Settings
from tasks.storage import evaluation_key

if TYPE_CHECKING:
    from tasks.qc.appearance import ClothReading
    from tasks.qc.metrics import GenerationInputs


@dataclass(frozen=True)
class ModelVersion:
    spec: str
    overrides: dict[str, Any]

    @classmethod
    def parse(cls, spec: str) -> ModelVersion:
        from tasks.run_overrides import RUN_SETTINGS, check_params, model_version_overrides, parse_value

        head, _, rest = spec.partition(":")
        overrides = model_version_overrides(head)
        allowed = [k for k in RUN_SETTINGS if k not in ("engine", "ladi_vton_dataset", "drop_wait_s")] + ["model_registry"]
        for item in filter(None, rest.split(",")):
            key, sep, value = item.partition("=")
            if not sep or key not in allowed:
                raise ValueError(f"model version {spec!r}: {item!r} is not SETTING=VALUE of {', '.join(allowed)}")
            overrides[key] = value if key == "model_registry" else parse_value(value)
        try:
            check_params({k: v for k, v in overrides.items() if k != "model_registry"})
        except ValueError as error:
            raise ValueError(f"model version {spec!r}: {error}") from error
        return cls(spec, overrides)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._=-]+", "_", self.spec)

    def settings(self, settings: Settings) -> Settings:
        """The settings the version runs with: the run overrides, and its own registry where it
        names one (another checkpoint of the same dataset is another registry file)."""
        from tasks.run_overrides import apply_run_overrides

        overrides = dict(self.overrides)
        registry = overrides.pop("model_registry", None)
        settings = apply_run_overrides(settings, overrides)
        return settings if registry is None else Settings(**{**settings.model_dump(), "model_registry": registry})


@dataclass
class CategoryResult:
    category: str
    paired: int = 0  # generations made
    unpaired: int = 0
    ssim: float | None = None  # paired, mean over the pairs
    ssim_masked: float | None = None  # paired, inside the inpaint region only
    lpips: float | None = None
    lpips_masked: float | None = None
    fid: float | None = None  # unpaired generations against the set's real photos of the category
    kid: float | None = None
    kid_std: float | None = None
    kid_subset_size: int | None = None
    seconds_per_image: float | None = None
    qc_checked: int = 0
    qc_passed: int = 0

    @property
    def qc_pass_rate(self) -> float | None:
        return self.qc_passed / self.qc_checked if self.qc_checked else None


@dataclass
class VersionResult:
    """What ``result.json`` holds for one version."""

    spec: str
    slug: str
    engine: EngineCard
    random_weights: bool
    feature_networks: list[NetworkInfo]
    categories: list[CategoryResult] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # slot -> why no image
    images: dict[str, str] = field(default_factory=dict)  # slot -> object key


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


class _Inputs:
    """The set's views and cloths, and what QC reads from each alone, each read once."""

    def __init__(self, store: Any, evalset: EvalSet, faces: Any) -> None:
        self.store, self.name, self.faces = store, evalset.name, faces
        self.views: dict[str, View] = {}
        self.cloths: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.templates: dict[str, GenerationInputs] = {}  # view id -> the view's QC inputs without a cloth
        self.cloth_readings: dict[str, ClothReading] = {}

    def view(self, view_id: str) -> View:
        if view_id not in self.views:
            self.views[view_id] = load_view(self.store, self.name, view_id)
        return self.views[view_id]

    def cloth(self, cloth_id: str) -> tuple[np.ndarray, np.ndarray]:
        if cloth_id not in self.cloths:
            self.cloths[cloth_id] = load_cloth(self.store, self.name, cloth_id)
        return self.cloths[cloth_id]

    def qc(self, pair: EvalPair) -> GenerationInputs:
        """What QC compares the pair's generation with (``tasks.qc.judge``)."""
        from tasks.qc.appearance import read_cloth
        from tasks.qc.judge import view_inputs, with_cloth

        if pair.view not in self.templates:
            view = self.view(pair.view)
            self.templates[pair.view] = view_inputs(
                pair.category, view.sample_fields(), view.labels, bool(self.faces(view.person))
            )
        if pair.cloth not in self.cloth_readings:
            self.cloth_readings[pair.cloth] = read_cloth(*self.cloth(pair.cloth))
        return with_cloth(self.templates[pair.view], self.cloth_readings[pair.cloth])


def evaluate_version(
    ctx: Any, evaluation_id: str, set_name: str, spec: str, limit: int | None = None, categories: list[str] | None = None
) -> VersionResult:
    """Generate the set's pairs (``EvalSet.chosen(limit, categories)``) with the version, measure, store the
    images and ``result.json``."""

    from tasks.inference.engine import TryOnSample, generate_each
    from tasks.inference.factory import get_engine
    from tasks.preprocess.faces import shared_faces
    from tasks.qc.judge import measure, verdicts

    version = ModelVersion.parse(spec)
    settings = version.settings(ctx.settings)
    evalset = read_set(ctx.store, set_name)
    engine = get_engine(settings)
    inception = InceptionFeatures(ctx.settings)  # the same networks for every version: the run's, not the version's
    lpips, lpips_networks = load_lpips(ctx.settings)
    result = VersionResult(spec, version.slug, engine.describe(), engine.random_weights, [inception.info, *lpips_networks])
    faces = shared_faces()
    inputs = _Inputs(ctx.store, evalset, faces)
    qc_rows: list[TableRow] = []
    chosen = evalset.chosen(limit, categories)
    for category in sorted({p.category for p in chosen}):
        pairs = [p for p in chosen if p.category == category]
        measured = CategoryResult(category)
        paired: dict[str, list[float | None]] = defaultdict(list)
        unpaired: list[np.ndarray] = []
        seconds = 0.0
        for start in range(0, len(pairs), settings.batch_size):
            batch: list[EvalPair] = pairs[start : start + settings.batch_size]
            samples = [
                TryOnSample(
                    generation_id=p.slot,
                    category=category,
                    cloth=inputs.cloth(p.cloth)[0],
                    cloth_mask=inputs.cloth(p.cloth)[1],
                    seed=settings.seed,
                    **inputs.view(p.view).sample_fields(),
                )
                for p in batch
            ]
            began = time.perf_counter()
            made = generate_each(engine, samples)  # a sample the engine cannot make fails alone, with its reason
            seconds += time.perf_counter() - began
            for pair in batch:
                outcome = made[pair.slot]
                if isinstance(outcome, str):
                    result.failed[pair.slot] = outcome
                    continue
                image, _ = outcome
                view = inputs.view(pair.view)
                key = evaluation_key(evaluation_id, f"{version.slug}/{pair.slot}.jpg")
                ctx.store.put_bytes(key, encode_jpeg(image, settings.jpeg_quality), "image/jpeg")
                result.images[pair.slot] = key
                if pair.paired:
                    s, lp = ssim(image, view.person, view.inpaint_mask), lpips.compare(image, view.person, view.inpaint_mask)
                    for name, value in (
                        ("ssim", s.whole),
                        ("ssim_masked", s.masked),
                        ("lpips", lp.whole),
                        ("lpips_masked", lp.masked),
                    ):
                        paired[name].append(value)
                    measured.paired += 1
                else:
                    unpaired.append(image)
                    measured.unpaired += 1
                row = measure(image, inputs.qc(pair), faces)
                qc_rows.append({"generation_id": pair.slot, "category": category, **row})
        count = measured.paired + measured.unpaired
        measured.seconds_per_image = seconds / count if count else None
        for name, values in paired.items():
            setattr(measured, name, _mean(values))
        if len(unpaired) >= 2:
            real = inception([inputs.view(v).person for v, c in sorted(evalset.views.items()) if c == category])
            fake = inception(unpaired)
            if len(real) >= 2:
                measured.fid = fid(real, fake)
                found = kid(real, fake)
                measured.kid, measured.kid_std, measured.kid_subset_size = found.mean, found.std, found.subset_size
        result.categories.append(measured)
    if qc_rows:
        failed = verdicts(qc_rows)
        for measured in result.categories:
            slots = [str(r["generation_id"]) for r in qc_rows if r["category"] == measured.category]
            measured.qc_checked = len(slots)
            measured.qc_passed = sum(1 for s in slots if not failed[s])
    ctx.store.put_json(evaluation_key(evaluation_id, f"{version.slug}/result.json"), to_document(result))
    return result
