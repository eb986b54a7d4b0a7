"""What identifies a LaDI-VTON model without loading it: the registry entries of a training set,
their combined weights hash, the licence and the model's resolution. Matching, publishing and the
report ask an engine for its identity on CPU workers, so this module imports no torch."""

from __future__ import annotations

import hashlib
import json

from tasks.models import ModelEntry, lookup
from tasks.settings import Settings

MODEL_HEIGHT, MODEL_WIDTH = 512, 384
DATASETS = ("vitonhd", "dresscode")
LICENCE = "CC BY-NC 4.0"
WEIGHT_FILES = ("unet", "inversion_adapter", "emasc", "warping")
BACKENDS = {
    "unet": "ladi-vton-unet",
    "inversion_adapter": "ladi-vton-inversion-adapter",
    "emasc": "ladi-vton-emasc",
    "warping": "ladi-vton-warping",
    "base": "diffusers-sd2-inpainting",
    "image_encoder": "transformers-clip-vision",
}


def registry_names(dataset: str) -> dict[str, str]:
    """Component -> registry entry name."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown LaDI-VTON training set {dataset!r}; expected one of {', '.join(DATASETS)}")
    names = {part: f"ladi-vton-{part.replace('_', '-')}-{dataset}" for part in WEIGHT_FILES}
    return {**names, "base": "sd2-inpainting", "image_encoder": "clip-vit-h-14"}


def registry_entries(settings: Settings, dataset: str) -> dict[str, ModelEntry]:
    return {part: lookup(settings, name, BACKENDS[part]) for part, name in registry_names(dataset).items()}


def combined_sha256(entries: dict[str, ModelEntry]) -> str:
    """One hash for the weights that make an output: the registry hashes of every component."""
    payload = json.dumps({entry.name: entry.sha256 for entry in entries.values()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
