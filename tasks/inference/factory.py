"""The engine factory: which engine a worker's settings name, built once per process, and the
release status, now, of the model that made a generation. Kept apart from the interface
(:mod:`tasks.inference.engine`), which every engine imports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.catalog.documents import JsonObject
from tasks.inference.engine import NO_WEIGHTS, Engine, Release
from tasks.licences import LicenceVerdict, verdict
from tasks.settings import Settings

ENGINES = ("warp-baseline", "ladi-vton", "null")
# the settings an engine is built from: a process keeps one engine per distinct combination
ENGINE_SETTINGS = (
    "engine",
    "model_registry",
    "model_dir",
    "batch_size",
    "ladi_vton_dataset",
    "inference_steps",
    "guidance_scale",
    "scheduler",
    "precision",
    "device",
    "torch_compile",
)
_ENGINES: dict[tuple[Any, ...], Engine] = {}


def _build(settings: Settings) -> Engine:
    if settings.engine == "warp-baseline":
        from tasks.inference.warp_baseline import WarpBaselineEngine

        return WarpBaselineEngine()
    if settings.engine == "ladi-vton":
        from tasks.inference.ladi_vton.engine import LadiVtonEngine

        return LadiVtonEngine(settings)
    if settings.engine == "null":
        from tasks.inference.null_engine import NullEngine

        return NullEngine()
    raise ValueError(f"unknown engine {settings.engine!r}; available: {', '.join(ENGINES)}")


def get_engine(settings: Settings) -> Engine:
    """The process's engine for these settings, built on first use and then kept for every
    batch the process runs (one try-on task under Airflow 3, a whole run with ``tryon run``)."""
    key = tuple(getattr(settings, name) for name in ENGINE_SETTINGS)
    if key not in _ENGINES:
        _ENGINES[key] = _build(settings)
    return _ENGINES[key]


@dataclass(frozen=True)
class Standing:
    """What the storefront gate asks of the model behind an image, now: whether it is released (its
    QC-passed images publish by themselves) and whether its weights' licences allow the
    deployment's use (no image of it may reach the storefront otherwise, approved or not)."""

    release: Release
    licence: LicenceVerdict


def standing_of(settings: Settings, engine: str, model_version: str, weights_sha256: str, parameters: JsonObject) -> Standing:
    """The standing, now, of the model that made a generation: its engine rebuilt from the
    current registry must still name the same version and weights; then its release and its
    weights' licences as the registry states them. A model the registry no longer names, or
    names with other weights, is a preview that cannot be licensed."""
    from tasks.models import ModelRegistryError

    overrides: dict[str, Any] = {"engine": engine}
    if "dataset" in parameters:
        overrides["ladi_vton_dataset"] = parameters["dataset"]
    try:
        current = _build(settings.model_copy(update=overrides))
    except (ValueError, ModelRegistryError) as error:
        why = f"{model_version} cannot be identified in the model registry now ({error})"
        return Standing(Release(False, why), _unidentified(settings, weights_sha256, why))
    if (current.model_version, current.weights_sha256) != (model_version, weights_sha256):
        why = (
            f"{model_version} (weights {weights_sha256[:12]}) is not what the model registry names now "
            f"({current.model_version}, weights {current.weights_sha256[:12]})"
        )
        return Standing(Release(False, why), _unidentified(settings, weights_sha256, why))
    return Standing(current.release, verdict(settings.deployment_use, current.weight_licences))


def _unidentified(settings: Settings, weights_sha256: str, why: str) -> LicenceVerdict:
    """The licence verdict of a model the registry does not name now: an engine without learned
    weights (an older version of the warp baseline) needs no licence; weights nobody can name
    cannot be checked, so they are not licensed."""
    if weights_sha256 == NO_WEIGHTS:
        return verdict(settings.deployment_use, [])
    return LicenceVerdict(False, f"{why}: its weights' licences cannot be checked")


class StandingLookup:
    """``standing_of`` for generation rows, looked up once per model (a date holds thousands of
    generations and a handful of models)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known: dict[tuple[str, str, str, str], Standing] = {}

    def __call__(self, row: Any) -> Standing:
        parameters = getattr(row, "parameters", None) or {}  # a full-outfit row records none
        key = (row.engine, row.model_version, row.weights_sha256, str(parameters.get("dataset")))
        if key not in self._known:
            self._known[key] = standing_of(self.settings, row.engine, row.model_version, row.weights_sha256, parameters)
        return self._known[key]
