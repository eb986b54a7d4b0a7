"""The QC table (``reports/{date}/metrics.parquet``): one row per generation, identified by its
generation, with one column per QC metric. ``METRICS`` is the one list of those metrics: the
metrics module fills them (``tasks.qc.metrics.generation_metrics``), the suite's expectations
may only name them (``tasks.qc.suite.load_config``), and the report's histograms draw the ones
marked ``drawn``, in this order (the garment and artefact measurements first: what flags a
broken try-on; then the image-level ones)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    drawn: bool = True  # a panel of the report's histograms (a size or a flag is not)


METRICS: tuple[Metric, ...] = (
    Metric("old_garment_left"),
    Metric("old_garment_beside"),
    Metric("skin_in_garment"),
    Metric("garment_overflow"),
    Metric("garment_coverage"),
    Metric("garment_split"),
    Metric("print_aspect"),
    Metric("print_matched"),
    Metric("garment_torn"),
    Metric("seam_excess"),
    Metric("noise_ratio"),
    Metric("foreign_colours"),
    Metric("skin_erased"),
    Metric("frame_width"),
    Metric("pose_shift"),
    Metric("colour_delta_e"),
    Metric("luma_std"),
    Metric("clipped_excess"),
    Metric("outside_ssim"),
    Metric("outside_changed"),
    Metric("inpaint_coverage"),
    Metric("inside_change", drawn=False),
    Metric("person_parts", drawn=False),
    Metric("width", drawn=False),
    Metric("height", drawn=False),
    Metric("photo_face", drawn=False),
    Metric("output_face", drawn=False),
)
METRIC_COLUMNS = tuple(metric.name for metric in METRICS)

MetricRow = dict[str, float | int | bool]  # one image's measurements: metric name (METRICS) -> value
TableRow = dict[str, str | float | int | bool | None]  # a row of the table: its identifying columns and its metrics
PANELS = tuple(metric.name for metric in METRICS if metric.drawn)
