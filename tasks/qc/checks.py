"""Image checks on one generation against its model photo and inpaint region. Each check
returns a named result with its value, the threshold and, when it fails, a reason.

For now: output size; not blank; unchanged outside the inpaint region (mean and 99th
percentile of the absolute difference, so JPEG noise passes and real edits do not); changed
inside it (an engine that returns the photo untouched fails).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tasks.images import CANVAS_HEIGHT, CANVAS_WIDTH


@dataclass(frozen=True)
class Thresholds:
    min_std: float = 8.0  # grey-level standard deviation of the whole image
    max_outside_mean_diff: float = 2.5  # mean |output - photo| outside the region, 0..255
    max_outside_p99_diff: float = 24.0  # 99th percentile of the same
    min_inside_mean_diff: float = 4.0  # mean |output - photo| inside the region


@dataclass
class CheckResult:
    check: str
    passed: bool
    value: float
    threshold: str
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def run_checks(output: np.ndarray, photo: np.ndarray, region: np.ndarray, thresholds: Thresholds = Thresholds()) -> list[CheckResult]:
    results = []
    height, width = output.shape[:2]
    size_ok = (height, width) == (CANVAS_HEIGHT, CANVAS_WIDTH)
    results.append(CheckResult("size", size_ok, float(height * width), f"=={CANVAS_WIDTH}x{CANVAS_HEIGHT}",
                               None if size_ok else f"output is {width}x{height}, expected {CANVAS_WIDTH}x{CANVAS_HEIGHT}"))
    if not size_ok:
        return results

    std = float(output.astype(np.float32).mean(axis=2).std())
    results.append(CheckResult("not_blank", std >= thresholds.min_std, std, f">={thresholds.min_std}",
                               None if std >= thresholds.min_std else f"image is nearly uniform (std {std:.1f})"))

    difference = np.abs(output.astype(np.int16) - photo.astype(np.int16)).max(axis=2)
    outside = difference[~region]
    mean_out = float(outside.mean()) if outside.size else 0.0
    p99_out = float(np.percentile(outside, 99)) if outside.size else 0.0
    ok = mean_out <= thresholds.max_outside_mean_diff and p99_out <= thresholds.max_outside_p99_diff
    results.append(CheckResult(
        "outside_region_unchanged", ok, mean_out,
        f"mean<={thresholds.max_outside_mean_diff}, p99<={thresholds.max_outside_p99_diff}",
        None if ok else f"pixels outside the inpaint region changed (mean {mean_out:.2f}, p99 {p99_out:.1f})",
    ))

    inside = difference[region]
    mean_in = float(inside.mean()) if inside.size else 0.0
    ok = mean_in >= thresholds.min_inside_mean_diff
    results.append(CheckResult("inside_region_changed", ok, mean_in, f">={thresholds.min_inside_mean_diff}",
                               None if ok else f"the inpaint region is nearly unchanged (mean {mean_in:.2f})"))
    return results
