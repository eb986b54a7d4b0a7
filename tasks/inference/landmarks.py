"""Landmark correspondences for the geometric warp baseline: points on the garment's mask
contour (neckline, shoulders, sleeve ends, torso sides, hem corners; waistband, crotch and leg
openings for lower body) and where each should land on the body, from COCO-18 keypoints.

Garment photos are front views, so the garment's image-left side goes to the body's
image-left side (the wearer's right in both). Body widths are estimated from joint distances:
mediapipe's hip joints sit about 0.6 of the hip width apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tasks.catalog.documents import JsonObject
from tasks.preprocess.pose import KP

HIP_WIDTH_PER_JOINT_DISTANCE = 1.7
SHOULDER_OVERHANG = 0.1  # shoulder edge beyond the joint, in shoulder widths


class LandmarkError(ValueError):
    """The garment or the body lacks what the category needs; the message is the reason."""


@dataclass
class SleeveFit:
    """A sleeve is moved rigidly (rotation about the shoulder and the garment's scale) onto
    the arm: a thin-plate spline cannot swing a sleeve down beside the torso without folding
    the cloth between them."""

    side: str
    mask: np.ndarray  # the sleeve's pixels on the garment canvas
    matrix: np.ndarray  # (2, 3) affine map garment -> body


@dataclass
class Correspondence:
    """Landmark pairs for the thin-plate spline of the garment's main part, and rigid fits
    for its sleeves (whose pixels the spline does not move)."""

    names: list[str] = field(default_factory=list)
    garment: list[tuple[float, float]] = field(default_factory=list)
    body: list[tuple[float, float]] = field(default_factory=list)
    sleeves: list[SleeveFit] = field(default_factory=list)

    def add(self, name: str, garment_point: Sequence[float] | np.ndarray, body_point: Sequence[float] | np.ndarray) -> None:
        self.names.append(name)
        self.garment.append((float(garment_point[0]), float(garment_point[1])))
        self.body.append((float(body_point[0]), float(body_point[1])))

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.garment, np.float64), np.asarray(self.body, np.float64)

    def to_dict(self) -> JsonObject:
        """The landmarks as a sidecar records them: each point on the garment and on the body,
        and each sleeve's affine map."""
        points: JsonObject = {
            n: {"garment": [float(v) for v in g], "body": [float(v) for v in b]}
            for n, g, b in zip(self.names, self.garment, self.body)
        }
        for sleeve in self.sleeves:
            points[f"sleeve_{sleeve.side}"] = {"affine": sleeve.matrix.round(4).tolist()}
        return points


class MaskProfile:
    """Row and column queries on a garment mask."""

    def __init__(self, mask: np.ndarray) -> None:
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            raise LandmarkError("garment mask is empty")
        self.mask = mask
        self.top, self.bottom = int(ys.min()), int(ys.max())
        self.left, self.right = int(xs.min()), int(xs.max())
        self.height = self.bottom - self.top + 1
        self.centre_x = (self.left + self.right) / 2

    def row(self, fraction: float) -> int:
        return int(round(self.top + fraction * (self.height - 1)))

    def runs(self, y: int) -> list[tuple[int, int]]:
        """Contiguous mask runs (left, right) on row y, left to right."""
        line = np.concatenate([[0], self.mask[y].astype(np.int8), [0]])
        changes = np.flatnonzero(np.diff(line))
        return [(int(a), int(b) - 1) for a, b in zip(changes[::2], changes[1::2])]

    def run_at(self, y: int, x: float) -> tuple[int, int]:
        """The run on row y containing x, or the nearest one. A row where the mask has a gap (a
        worn garment cut in two by an arm, a thin strap) takes the runs of the nearest row that
        has pixels: the evaluation's garments cut from model photos have such gaps."""
        runs = self.runs(y)
        if not runs:
            filled = np.flatnonzero(self.mask.any(axis=1))
            runs = self.runs(int(filled[np.argmin(np.abs(filled - y))]))
        return min(runs, key=lambda r: 0 if r[0] <= x <= r[1] else min(abs(r[0] - x), abs(r[1] - x)))

    def first_row(self, x: float) -> int:
        column = np.flatnonzero(self.mask[:, int(round(x))])
        return int(column[0]) if len(column) else self.top

    def extreme_point(self, side: str, band: float = 0.02) -> tuple[float, float]:
        """The outermost point on the image-left or image-right side (mean row of the pixels
        within ``band`` of the bounding box's edge)."""
        width = self.right - self.left + 1
        ys, xs = np.nonzero(self.mask)
        if side == "left":
            chosen = xs <= self.left + band * width
            return float(self.left), float(ys[chosen].mean())
        chosen = xs >= self.right - band * width
        return float(self.right), float(ys[chosen].mean())


@dataclass
class Body:
    """Body measurements from COCO-18 keypoints, sides in image order."""

    keypoints: np.ndarray

    def point(self, name: str) -> np.ndarray:
        return self.keypoints[KP[name], :2].astype(np.float64)

    def present(self, name: str) -> bool:
        return bool(self.keypoints[KP[name], 2] >= 0.5)

    def mid(self, joint: str) -> np.ndarray:
        """The midpoint of a paired joint."""
        a, b = self.sides(joint)
        return (a + b) / 2

    def sides(self, joint: str) -> tuple[np.ndarray, np.ndarray]:
        """(image-left, image-right) points of a paired joint."""
        a, b = self.point(f"r_{joint}"), self.point(f"l_{joint}")
        return (a, b) if a[0] <= b[0] else (b, a)

    def side_names(self) -> tuple[str, str]:
        return ("r", "l") if self.point("r_hip")[0] <= self.point("l_hip")[0] else ("l", "r")

    @property
    def hip_mid(self) -> np.ndarray:
        return self.mid("hip")

    @property
    def hip_joint_distance(self) -> float:
        left, right = self.sides("hip")
        return float(np.linalg.norm(right - left))

    @property
    def torso(self) -> float:
        if self.present("r_shoulder") and self.present("l_shoulder"):
            return float(self.hip_mid[1] - self.mid("shoulder")[1])
        return 2.6 * self.hip_joint_distance

    def limb(self, side: str, joints: tuple[str, ...]) -> np.ndarray:
        """Polyline of a limb's present joints, starting at the first."""
        return np.asarray([self.point(f"{side}_{j}") for j in joints if self.present(f"{side}_{j}")], np.float64)


def point_along(polyline: np.ndarray, distance: float) -> np.ndarray:
    """The point at arc length ``distance`` along the polyline (clamped to its end)."""
    for a, b in zip(polyline[:-1], polyline[1:]):
        length = float(np.linalg.norm(b - a))
        if distance <= length and length > 0:
            return a + (b - a) * (distance / length)
        distance -= length
    return polyline[-1]


def _clamp(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


def _upper_frame(
    profile: MaskProfile, body: Body, corr: Correspondence, torso_row: float, sleeve_rows: float
) -> tuple[float, float, float]:
    """Collar, shoulders, armpits, torso sides and sleeves shared by tops and dresses.

    ``torso_row`` is the fraction of the garment's height where its torso width is measured
    (chest for tops, waist for dresses); sleeve ends are searched above ``sleeve_rows`` so a
    flared skirt is not taken for a sleeve. Returns the garment's shoulder row, the
    garment-to-body scale and the body's shoulder-mid y.
    """
    mid_row = profile.row(torso_row)
    torso_left, torso_right = profile.run_at(mid_row, profile.centre_x)
    centre = (torso_left + torso_right) / 2
    torso_width = torso_right - torso_left
    shoulder_g = [(x, float(profile.first_row(x))) for x in (centre - 0.47 * torso_width, centre + 0.47 * torso_width)]
    collar_g = [(x, float(profile.first_row(x))) for x in (centre - 0.2 * torso_width, centre + 0.2 * torso_width)]
    garment_shoulder_y = (shoulder_g[0][1] + shoulder_g[1][1]) / 2

    left_sh, right_sh = body.sides("shoulder")
    shoulder_width = float(np.linalg.norm(right_sh - left_sh))
    mid = (left_sh + right_sh) / 2
    torso = body.torso
    outward = SHOULDER_OVERHANG * shoulder_width
    shoulder_b = [left_sh + (-outward, -0.03 * torso), right_sh + (outward, -0.03 * torso)]
    scale = float(np.linalg.norm(shoulder_b[1] - shoulder_b[0]) / max(1.0, shoulder_g[1][0] - shoulder_g[0][0]))

    for name, g, b in zip(("shoulder_left", "shoulder_right"), shoulder_g, shoulder_b):
        corr.add(name, g, b)
    for name, g, d in zip(("collar_left", "collar_right"), collar_g, (-1, 1)):
        corr.add(name, g, (mid[0] + d * 0.18 * shoulder_width, mid[1] - 0.06 * torso))

    armpit_fraction = 0.33
    armpit_row = garment_shoulder_y + 0.45 * torso_width
    armpit_width = _body_width(body, shoulder_width, armpit_fraction) * 1.05
    armpit_y = mid[1] + armpit_fraction * torso
    armpit_centre = _centre_at(body, armpit_fraction)
    corr.add("armpit_left", (centre - torso_width / 2, armpit_row), (armpit_centre - armpit_width / 2, armpit_y))
    corr.add("armpit_right", (centre + torso_width / 2, armpit_row), (armpit_centre + armpit_width / 2, armpit_y))

    body_fraction = _clamp((mid_row - garment_shoulder_y) * scale / max(1.0, torso), 0.4, 1.0)
    body_width_mid = _body_width(body, shoulder_width, fraction=body_fraction)
    y_body = mid[1] + body_fraction * torso
    width = _clamp(scale * torso_width, 0.95 * body_width_mid, 1.3 * body_width_mid)
    centre_b = _centre_at(body, body_fraction)
    corr.add("torso_left", (torso_left, mid_row), (centre_b - width / 2, y_body))
    corr.add("torso_right", (torso_right, mid_row), (centre_b + width / 2, y_body))
    _sleeves(profile, body, corr, centre, torso_width, shoulder_g, shoulder_b, scale, profile.row(sleeve_rows))
    return garment_shoulder_y, scale, float(mid[1])


def _body_width(body: Body, shoulder_width: float, fraction: float) -> float:
    """Estimated body width between the shoulders (fraction 0) and the hips (fraction 1)."""
    hips = HIP_WIDTH_PER_JOINT_DISTANCE * body.hip_joint_distance
    return (1 - fraction) * 0.95 * shoulder_width + fraction * hips


def _centre_at(body: Body, fraction: float) -> float:
    return float((1 - fraction) * body.mid("shoulder")[0] + fraction * body.hip_mid[0])


def _sleeves(
    profile: MaskProfile,
    body: Body,
    corr: Correspondence,
    centre: float,
    torso_width: float,
    shoulder_g: list[tuple[float, float]],
    shoulder_b: list[np.ndarray],
    scale: float,
    last_row: int,
) -> None:
    """Each sleeve (garment pixels beside the torso columns, above ``last_row``) is rotated
    about its shoulder so it points along the arm, shoulder -> elbow. Sleeveless garments add
    nothing."""
    rows = np.arange(profile.mask.shape[0])[:, None]
    columns = np.arange(profile.mask.shape[1])[None, :]
    left_name, right_name = body.side_names()
    for index, (side, name, sign) in enumerate((("left", left_name, -1), ("right", right_name, 1))):
        outside = sign * (columns - centre) > 0.5 * torso_width
        sleeve = profile.mask & outside & (rows <= last_row)
        if sleeve.sum() < 0.01 * profile.mask.sum():
            continue
        arm = body.limb(name, ("shoulder", "elbow", "wrist"))
        if len(arm) < 2:
            continue
        ys, xs = np.nonzero(sleeve)
        garment_direction = np.array([xs.mean(), ys.mean()]) - np.asarray(shoulder_g[index])
        arm_direction = arm[1] - arm[0]
        angle = np.arctan2(arm_direction[1], arm_direction[0]) - np.arctan2(garment_direction[1], garment_direction[0])
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]])
        offset = shoulder_b[index] - linear @ np.asarray(shoulder_g[index])
        corr.sleeves.append(SleeveFit(side=side, mask=sleeve, matrix=np.hstack([linear, offset[:, None]])))


def upper_body(profile: MaskProfile, body: Body) -> Correspondence:
    corr = Correspondence()
    garment_shoulder_y, scale, body_shoulder_y = _upper_frame(profile, body, corr, torso_row=0.6, sleeve_rows=0.95)
    hem_row = profile.row(0.985)
    hem_left, hem_right = profile.run_at(hem_row, profile.centre_x)
    hip_width = HIP_WIDTH_PER_JOINT_DISTANCE * body.hip_joint_distance
    width = _clamp(scale * (hem_right - hem_left), 0.95 * hip_width, 1.35 * hip_width)
    y = body_shoulder_y + (hem_row - garment_shoulder_y) * scale
    y = _clamp(y, body.hip_mid[1] - 0.25 * body.torso, body.hip_mid[1] + 0.35 * body.torso)
    corr.add("hem_left", (hem_left, hem_row), (body.hip_mid[0] - width / 2, y))
    corr.add("hem_right", (hem_right, hem_row), (body.hip_mid[0] + width / 2, y))
    return corr


def dresses(profile: MaskProfile, body: Body) -> Correspondence:
    corr = Correspondence()
    garment_shoulder_y, scale, body_shoulder_y = _upper_frame(profile, body, corr, torso_row=0.3, sleeve_rows=0.45)
    hip_width = HIP_WIDTH_PER_JOINT_DISTANCE * body.hip_joint_distance
    hem_row = profile.row(0.985)
    hem_left, hem_right = profile.run_at(hem_row, profile.centre_x)
    width = max(scale * (hem_right - hem_left), 1.0 * hip_width)
    y = body_shoulder_y + (hem_row - garment_shoulder_y) * scale
    if body.present("r_ankle") and body.present("l_ankle"):
        y = min(y, float(body.mid("ankle")[1]))
    corr.add("hem_left", (hem_left, hem_row), (body.hip_mid[0] - width / 2, y))
    corr.add("hem_right", (hem_right, hem_row), (body.hip_mid[0] + width / 2, y))
    return corr


def lower_body(profile: MaskProfile, body: Body) -> Correspondence:
    corr = Correspondence()
    hip_mid, joint_distance, torso = body.hip_mid, body.hip_joint_distance, body.torso
    waist_row = profile.row(0.01)
    waist_left, waist_right = profile.run_at(waist_row, profile.centre_x)
    centre = (waist_left + waist_right) / 2
    waist_width_b = 1.55 * joint_distance
    scale = waist_width_b / max(1.0, waist_right - waist_left)
    waist_y = hip_mid[1] - 0.2 * torso
    corr.add("waist_left", (waist_left, waist_row), (hip_mid[0] - waist_width_b / 2, waist_y))
    corr.add("waist_right", (waist_right, waist_row), (hip_mid[0] + waist_width_b / 2, waist_y))

    hip_row = profile.row(0.15)
    hip_left, hip_right = profile.run_at(hip_row, centre)
    hip_width_b = HIP_WIDTH_PER_JOINT_DISTANCE * joint_distance
    width = _clamp(scale * (hip_right - hip_left), hip_width_b, 1.3 * hip_width_b)
    y = waist_y + (hip_row - waist_row) * scale
    corr.add("hip_left", (hip_left, hip_row), (hip_mid[0] - width / 2, y))
    corr.add("hip_right", (hip_right, hip_row), (hip_mid[0] + width / 2, y))

    column = profile.mask[waist_row:, int(round(centre))]
    gap = np.flatnonzero(~column)
    crotch_row = waist_row + int(gap[0]) if len(gap) else profile.bottom
    if crotch_row < profile.row(0.85):
        _legs(profile, body, corr, centre, crotch_row, scale)
    else:  # a skirt: one opening
        hem_row = profile.row(0.985)
        hem_left, hem_right = profile.run_at(hem_row, centre)
        width = max(scale * (hem_right - hem_left), hip_width_b)
        y = waist_y + (hem_row - waist_row) * scale
        corr.add("hem_left", (hem_left, hem_row), (hip_mid[0] - width / 2, y))
        corr.add("hem_right", (hem_right, hem_row), (hip_mid[0] + width / 2, y))
    return corr


def _legs(profile: MaskProfile, body: Body, corr: Correspondence, centre: float, crotch_row: int, scale: float) -> None:
    """Crotch and, at half and full leg length, both edges of each trouser leg, placed along
    the body's hip -> knee -> ankle polylines."""
    hip_mid = body.hip_mid
    crotch_b = hip_mid + (0.0, 0.45 * body.hip_joint_distance)
    corr.add("crotch", (centre, crotch_row), tuple(crotch_b))
    leg_length = profile.bottom - crotch_row
    left_name, right_name = body.side_names()
    for fraction in (0.5, 0.985):
        row = int(round(crotch_row + fraction * leg_length))
        runs = [r for r in profile.runs(row) if r[1] - r[0] > 3]
        if len(runs) < 2:
            continue
        leg_runs = (runs[0], runs[-1])
        for side, run, name in zip(("left", "right"), leg_runs, (left_name, right_name)):
            leg = body.limb(name, ("hip", "knee", "ankle"))
            if len(leg) < 2:
                continue
            along = (crotch_b[1] - leg[0][1]) + scale * fraction * leg_length
            centre_b = point_along(leg, along)
            half = scale * (run[1] - run[0]) / 2
            corr.add(
                f"leg_{side}_{fraction:.2f}_outer" if side == "left" else f"leg_{side}_{fraction:.2f}_inner",
                (run[0], row),
                (centre_b[0] - half, centre_b[1]),
            )
            corr.add(
                f"leg_{side}_{fraction:.2f}_inner" if side == "left" else f"leg_{side}_{fraction:.2f}_outer",
                (run[1], row),
                (centre_b[0] + half, centre_b[1]),
            )


BUILDERS = {"upper_body": upper_body, "lower_body": lower_body, "dresses": dresses}


def correspondence(category: str, cloth_mask: np.ndarray, keypoints: np.ndarray) -> Correspondence:
    """Garment-to-body landmark pairs for ``category``."""
    if category not in BUILDERS:
        raise LandmarkError(f"unknown category {category!r}")
    return BUILDERS[category](MaskProfile(cloth_mask), Body(np.asarray(keypoints, np.float64)))
