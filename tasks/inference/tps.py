"""A 2-D thin-plate spline (kernel U(r) = r^2 log r^2) and a dense backward warp built on it."""

from __future__ import annotations

import cv2
import numpy as np


def _kernel(distances_sq: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        values = distances_sq * np.log(distances_sq)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


class ThinPlateSpline:
    """Maps ``source`` control points onto ``target`` ones exactly (or smoothly with
    ``regularization`` > 0) and everything else by the minimum-bending interpolant."""

    def __init__(self, source: np.ndarray, target: np.ndarray, regularization: float = 0.0) -> None:
        source = np.asarray(source, np.float64)
        target = np.asarray(target, np.float64)
        if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
            raise ValueError(f"control points must be matching (N, 2) arrays, got {source.shape} and {target.shape}")
        if len(source) < 3:
            raise ValueError("a thin-plate spline needs at least 3 control points")
        # normalise coordinates for a well-conditioned system
        self._centre = source.mean(axis=0)
        self._scale = float(np.abs(source - self._centre).max()) or 1.0
        points = (source - self._centre) / self._scale
        n = len(points)
        k = _kernel(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)) + regularization * np.eye(n)
        p = np.hstack([np.ones((n, 1)), points])
        system = np.zeros((n + 3, n + 3))
        system[:n, :n], system[:n, n:], system[n:, :n] = k, p, p.T
        rhs = np.zeros((n + 3, 2))
        rhs[:n] = target
        self._coefficients = np.linalg.lstsq(system, rhs, rcond=None)[0]
        self._points = points

    def __call__(self, query: np.ndarray) -> np.ndarray:
        query = (np.asarray(query, np.float64) - self._centre) / self._scale
        u = _kernel(((query[:, None, :] - self._points[None, :, :]) ** 2).sum(-1))
        p = np.hstack([np.ones((len(query), 1)), query])
        return u @ self._coefficients[: len(self._points)] + p @ self._coefficients[len(self._points) :]


def backward_warp(
    image: np.ndarray,
    output_points: np.ndarray,
    input_points: np.ndarray,
    output_shape: tuple[int, int],
    step: int = 8,
    border_value: int | tuple[int, ...] = 0,
) -> np.ndarray:
    """Warp ``image`` so that each ``input_points[i]`` lands on ``output_points[i]``.

    The spline maps output pixels back to input coordinates; it is evaluated on a coarse grid
    every ``step`` pixels and interpolated, which is exact to well under a pixel for these
    smooth maps and 60x cheaper than a dense evaluation.
    """
    height, width = output_shape
    spline = ThinPlateSpline(output_points, input_points)
    ys = np.arange(0, height + step, step, dtype=np.float64)
    xs = np.arange(0, width + step, step, dtype=np.float64)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    coarse = spline(grid).reshape(len(ys), len(xs), 2).astype(np.float32)
    # bilinear interpolation of the coarse map at x/step, y/step (pixel-exact alignment)
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32) / step, np.arange(height, dtype=np.float32) / step)
    dense = cv2.remap(coarse, grid_x, grid_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    map_x, map_y = dense[..., 0], dense[..., 1]
    return cv2.remap(
        image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border_value
    )
