"""Histograms of the QC metrics of a date (matplotlib, rendered to PNG for the report): one
panel per metric, generations that passed and failed QC stacked (a preview that passed QC waits
for a reviewer all the same: the report says so), the suite's thresholds drawn in."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from tasks.catalog.qc_table import PANELS
from tasks.qc.suite import SuiteConfig


def metrics_histograms(metrics: pd.DataFrame, config: SuiteConfig) -> bytes | None:
    """PNG bytes, or None when there is nothing to draw."""
    panels = [c for c in PANELS if c in metrics and metrics[c].notna().any()]
    if metrics.empty or not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flagged = metrics["qc_failed"].map(len) > 0 if "qc_failed" in metrics else pd.Series(False, index=metrics.index)
    columns = 4
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), squeeze=False)
    for axis, column in zip(axes.flat, panels):
        finite = np.isfinite(pd.to_numeric(metrics[column], errors="coerce").astype(float))
        values = [metrics.loc[~flagged & finite, column], metrics.loc[flagged & finite, column]]
        axis.hist(
            values, bins=20, stacked=True, histtype="stepfilled", color=["#2e7d32", "#c62828"], label=["passed QC", "failed QC"]
        )
        for spec in config.expectations:
            if spec.column == column:
                for bound in (spec.min, spec.max):
                    if bound is not None:
                        axis.axvline(bound, color="#555", linestyle="--", linewidth=1)
        axis.set_title(column, fontsize=10)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=8)
    # fixed margins: tight_layout measured every tick label, a second and a half of the report's time
    figure.subplots_adjust(
        left=0.04, right=0.99, bottom=0.5 / (2.8 * rows), top=1 - 0.35 / (2.8 * rows), wspace=0.22, hspace=0.45
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()
