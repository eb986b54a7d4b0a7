"""Settings a single DAG run may override through its run conf (``{"settings": {...}}``): what
a backfill with another model version or seed needs, nothing that moves data elsewhere."""

from __future__ import annotations

from typing import Any

from tasks.settings import Settings

RUN_SETTINGS = ("engine", "ladi_vton_dataset", "inference_steps", "guidance_scale", "scheduler", "precision", "seed",
                "photos_per_garment", "batch_size")


def apply_run_overrides(settings: Settings, conf: dict[str, Any] | None) -> Settings:
    overrides = dict((conf or {}).get("settings") or {})
    unknown = sorted(set(overrides) - set(RUN_SETTINGS))
    if unknown:
        raise ValueError(f"a run may not override {', '.join(unknown)}; allowed: {', '.join(RUN_SETTINGS)}")
    if not overrides:
        return settings
    return Settings(**{**settings.model_dump(), **overrides})


def model_version_overrides(spec: str) -> dict[str, Any]:
    """``ENGINE`` or ``ENGINE/DATASET`` (e.g. ``ladi-vton/dresscode``) -> run settings."""
    engine, _, dataset = spec.partition("/")
    return {"engine": engine, **({"ladi_vton_dataset": dataset} if dataset else {})}
