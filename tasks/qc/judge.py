"""Judging generated images: the one path from an image and what it was made from to a verdict,
used by the QC stage (each try-on shard's images), the full-outfit try-on (its two passes) and
the evaluation (each model version's images). A change to QC is made here once.

1. :func:`view_inputs`: what QC compares every image made on a view with, read from the view
   once (the photo's own garment and skin from its parsing, its face, its region);
2. :func:`with_cloth`: the same, with what QC reads from the garment alone (read once per garment);
3. :func:`measure`: the image's row of the QC table (``catalog.qc_table``);
4. :func:`verdicts`: the Great Expectations generation suite over the rows: per row, the names of
   the expectations it failed, in the suite's order (none: it passed).

A full-outfit image is judged as its two passes are, plus :func:`kept_in_outfit`: the top put on
by the first pass must still show after the second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from tasks.catalog.qc_table import MetricRow, TableRow
from tasks.preprocess.model_photo import worn_garment_and_skin
from tasks.qc.appearance import ClothReading, colour_bins, read_cloth
from tasks.qc.metrics import GenerationInputs, generation_metrics, view_template
from tasks.qc.suite import SuiteConfig, validate_generations

OUTFIT_TOP_KEPT = "upper_kept_in_outfit"  # the full-outfit image's own expectation
TOP_KEPT = 0.9  # the share of the top, as the first pass painted it, the final image must still show


def view_inputs(category: str, view: Mapping[str, np.ndarray], labels: np.ndarray | None, photo_face: bool) -> GenerationInputs:
    """The inputs of every image made on ``view`` (person, person_mask, inpaint_mask, keypoints)
    for ``category``, without a garment. ``labels``: the view's parsing (None for a view built
    before the library stored it: the person inside the region stands for the old garment)."""
    if labels is None:
        worn, skin = view["inpaint_mask"] & view["person_mask"], np.zeros_like(view["person_mask"])
    else:
        worn, skin = worn_garment_and_skin(labels, category)
    return view_template(category, dict(view), worn, skin, photo_face)


def with_cloth(template: GenerationInputs, cloth: ClothReading | tuple[np.ndarray, np.ndarray]) -> GenerationInputs:
    """``template`` with the garment tried on: its reading, or (cloth, mask) to read."""
    reading = cloth if isinstance(cloth, ClothReading) else read_cloth(*cloth)
    return replace(template, cloth_reading=reading)


def measure(output: np.ndarray, inputs: GenerationInputs, faces: Callable[[np.ndarray], Any]) -> MetricRow:
    """The QC table's metrics of one image (without its identifying columns)."""
    return generation_metrics(output, inputs, faces)


def verdicts(rows: list[TableRow], config: SuiteConfig | None = None) -> dict[str, list[str]]:
    """The suite over ``rows`` (each with ``generation_id`` and ``category``): generation id ->
    the expectations it failed."""
    outcome = validate_generations(pd.DataFrame(rows), config)
    return {str(row["generation_id"]): outcome.failed.get(str(row["generation_id"]), []) for row in rows}


def kept_in_outfit(first: np.ndarray, final: np.ndarray, top_region: np.ndarray, top: ClothReading) -> tuple[bool, float]:
    """Whether the full-outfit image still shows the top the first pass put on: (kept, share).
    The share is of the pixels in the top's region that looked like the top (its colours) after
    the first pass and still do in the final image; trousers drawn over a T-shirt's lower third
    leave two thirds. A first pass that shows no top at all gives NaN, which fails (its own checks
    name why)."""
    if top.model is None:
        return False, float("nan")
    before = top_region & (top.model.likeness(colour_bins(first)) >= 1)
    if not before.any():
        return False, float("nan")
    share = float((before & (top.model.likeness(colour_bins(final)) >= 1)).sum() / before.sum())
    return share >= TOP_KEPT, share
