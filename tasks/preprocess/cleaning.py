"""Cleaning rules for model photos. Each rule has a name that becomes the recorded reason;
nothing is deleted. Whole-photo rules reject the photo; category rules make it unsuitable for
that category only.

Whole photo: ``too_small`` (short side under 384 px), ``no_person`` (no person mask, or no
shoulders found), ``multiple_people`` (a second person seen: two faces, a second person-sized
figure apart from the model, or one joined to it beyond the found body's reach with a face or a
standing figure's height; a flared skirt or a bag joined to the body is not a person; checked
before sharpness), ``blurred``
(variance of the Laplacian over the person, at a fixed 512 px height, under 80).
Per category: ``missing_keypoints`` (upper body: shoulders and elbows, and the hips for the
hem; lower body: hips and knees; dresses: shoulders, hips and knees) and, for upper body,
``arms_crossing_torso`` (a wrist inside the torso between shoulders and hips).
"""

from __future__ import annotations

import cv2
import numpy as np

from tasks.preprocess.pose import KP, MIN_SCORE
from tasks.preprocess.segmentation import component_areas, largest_component

MIN_SHORT_SIDE = 384
MIN_PERSON_FRACTION = 0.05
SECOND_PERSON_FRACTION = 0.3  # a second blob this large relative to the first is a person
MIN_SHARPNESS = 80.0  # fixtures measure 415-2156; the same blurred with sigma 4 measure 7-27
REQUIRED_KEYPOINTS: dict[str, tuple[str, ...]] = {
    "upper_body": ("r_shoulder", "l_shoulder", "r_elbow", "l_elbow", "r_hip", "l_hip"),
    "lower_body": ("r_hip", "l_hip", "r_knee", "l_knee"),
    "dresses": ("r_shoulder", "l_shoulder", "r_hip", "l_hip", "r_knee", "l_knee"),
}


class PhotoRejected(ValueError):
    """The photo fails a whole-photo rule; ``rule`` names it, the message explains."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule


def check_size(image: np.ndarray) -> None:
    height, width = image.shape[:2]
    if min(height, width) < MIN_SHORT_SIDE:
        raise PhotoRejected("too_small", f"{width}x{height}, the short side must be at least {MIN_SHORT_SIDE} px")


def check_people(raw_person: np.ndarray, faces: list, keypoints: np.ndarray) -> None:
    fraction = float(raw_person.mean())
    if fraction < MIN_PERSON_FRACTION:
        raise PhotoRejected("no_person", f"the person mask covers {fraction:.1%} of the photo")
    if len(faces) >= 2:
        raise PhotoRejected("multiple_people", f"a second person in the photo ({len(faces)} faces)")
    areas = component_areas(raw_person)
    person_sized = [a for a in areas[1:] if a >= SECOND_PERSON_FRACTION * areas[0] and a >= 0.02 * raw_person.size]
    if person_sized:
        raise PhotoRejected(
            "multiple_people", f"a second person apart from the model ({1 + len(person_sized)} person-sized figures)"
        )
    if not all(keypoints[KP[n], 2] >= MIN_SCORE for n in ("r_shoulder", "l_shoulder")):
        raise PhotoRejected("no_person", "no body pose found (shoulders not detected)")
    second = second_figure(raw_person, faces, keypoints)
    if second is not None:
        raise PhotoRejected("multiple_people", f"a second person beside the model ({second})")


_BONES = (
    ("r_shoulder", "r_elbow"),
    ("r_elbow", "r_wrist"),
    ("l_shoulder", "l_elbow"),
    ("l_elbow", "l_wrist"),
    ("r_hip", "r_knee"),
    ("r_knee", "r_ankle"),
    ("l_hip", "l_knee"),
    ("l_knee", "l_ankle"),
    ("nose", "neck"),
)


def beyond_reach(raw_person: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, int]:
    """The largest piece of the person mask out of reach of the one body the pose model found
    (its torso, bones and head grown by half a shoulder width), and the mask's area within
    reach. Two people standing close are one blob to the segmenter and one body to the pose
    model; the second is such a piece. So are a flared skirt, long hair or a bag held out."""
    seen = keypoints[:, 2] >= MIN_SCORE
    point = {name: keypoints[index, :2] for name, index in KP.items()}
    shoulder_width = float(np.linalg.norm(point["r_shoulder"] - point["l_shoulder"]))
    body = np.zeros(raw_person.shape, np.uint8)
    torso = [point[n] for n in ("r_shoulder", "l_shoulder", "l_hip", "r_hip") if seen[KP[n]]]
    if len(torso) >= 3:
        cv2.fillPoly(body, [np.asarray(torso, np.int32)], 1)
    for a, b in _BONES:
        if seen[KP[a]] and seen[KP[b]]:
            cv2.line(
                body, tuple(int(v) for v in point[a]), tuple(int(v) for v in point[b]), 1, max(3, int(0.25 * shoulder_width))
            )
    if seen[KP["nose"]]:
        cv2.circle(body, tuple(int(v) for v in point["nose"]), max(3, int(0.4 * shoulder_width)), 1, -1)
    # within half a shoulder width of the body: a distance transform, whose cost does not grow
    # with the radius (a dilation by a disk of that radius took most of a photo's preprocessing)
    reach = cv2.distanceTransform((body == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= 0.5 * shoulder_width
    rest = cv2.morphologyEx((raw_person & ~reach).astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return largest_component(rest), int((raw_person & reach).sum())


def second_figure(raw_person: np.ndarray, faces: list, keypoints: np.ndarray) -> str | None:
    """What shows a second person in the piece of the person mask beyond the found body's reach
    (``beyond_reach``), in words, or None. A piece that large is a second person only when a
    person is seen in it: a face, or a standing figure (from above the found body's chest down
    to its knees or lower). A flared skirt, hair or a bag joined to the body is neither: on the
    fixture photos such pieces measure under 0.08 of the body, a second person 0.69 or more."""
    piece, within = beyond_reach(raw_person, keypoints)
    if piece.sum() < SECOND_PERSON_FRACTION * max(1, within):
        return None
    grown = cv2.dilate(piece.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    for x0, y0, x1, y1 in faces:
        if grown[(y0 + y1) // 2, (x0 + x1) // 2]:
            return "a face there, apart from the body the pose model found"
    seen = keypoints[:, 2] >= MIN_SCORE
    shoulders = [keypoints[KP[n], 1] for n in ("r_shoulder", "l_shoulder") if seen[KP[n]]]
    hips = [keypoints[KP[n], 1] for n in ("r_hip", "l_hip") if seen[KP[n]]]
    lows = [keypoints[KP[n], 1] for n in ("r_knee", "l_knee", "r_ankle", "l_ankle") if seen[KP[n]]]
    rows = np.nonzero(piece.any(axis=1))[0]
    if shoulders and hips and lows:
        chest = (min(shoulders) + min(hips)) / 2  # a gown flares from the waist; a person beside starts higher
        if rows.min() < chest and rows.max() >= min(lows):
            return "a standing figure joined to the model, from chest height down past the knees"
    return None


def sharpness(image: np.ndarray, person: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image over the person's bounding box, resized to
    512 px high so the figure does not depend on the photo's resolution."""
    ys, xs = np.nonzero(person)
    crop = cv2.cvtColor(image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], cv2.COLOR_RGB2GRAY)
    scale = 512 / crop.shape[0]
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), 512), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def check_sharpness(image: np.ndarray, person: np.ndarray) -> float:
    value = sharpness(image, person)
    if value < MIN_SHARPNESS:
        raise PhotoRejected("blurred", f"variance of the Laplacian {value:.1f} < {MIN_SHARPNESS}")
    return value


def category_problems(keypoints: np.ndarray) -> dict[str, str]:
    """category -> reason it is unsuitable; categories not named are suitable."""
    present = {name: keypoints[index, 2] >= MIN_SCORE for name, index in KP.items()}
    problems = {}
    for category, names in REQUIRED_KEYPOINTS.items():
        missing = [n for n in names if not present[n]]
        if missing:
            problems[category] = f"missing_keypoints: {', '.join(missing)}"
    if "upper_body" not in problems and _arms_cross_torso(keypoints, present):
        problems["upper_body"] = "arms_crossing_torso: a wrist lies inside the torso"
    return problems


def _arms_cross_torso(keypoints: np.ndarray, present: dict[str, bool]) -> bool:
    point = {name: keypoints[index, :2] for name, index in KP.items()}
    xs = sorted([point["r_shoulder"][0], point["l_shoulder"][0]])
    inset = 0.15 * (xs[1] - xs[0])
    top = min(point["r_shoulder"][1], point["l_shoulder"][1])
    bottom = max(point["r_hip"][1], point["l_hip"][1])
    for wrist in ("r_wrist", "l_wrist"):
        if present[wrist]:
            x, y = point[wrist]
            if xs[0] + inset < x < xs[1] - inset and top < y < bottom:
                return True
    return False
