"""One model photo, end to end: validate, segment, detect faces, pose, clean, parse, and per
suitable category a refocused view with LaDI-VTON's inpaint mask, pose map and an appearance
embedding of the garment worn there.

The photo is analysed once (at most 1024 px on its long side; parsing at 512 px high). Each
category's view is a similarity transform of that analysis (see ``refocus``), so keypoints,
person mask and labels follow exactly without running the models again. Masks and pose maps
are computed at the try-on model's 512x384, as the reference does, and the masks upsampled
(nearest) to the 768x1024 canvas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from tasks.images import fit_within
from tasks.preprocess.backends import embedding_backend, parsing_backend, pose_backend
from tasks.preprocess.cleaning import (
    category_problems,
    check_people,
    check_sharpness,
    check_size,
)
from tasks.preprocess.faces import FACE_BACKEND, shared_faces
from tasks.preprocess.masks import GARMENT_LABELS, MODEL_HEIGHT, MODEL_WIDTH, inpaint_mask, pose_map
from tasks.preprocess.parsing import ATR_LABELS as L
from tasks.preprocess.pose import KP, MIN_SCORE, PoseResult
from tasks.preprocess.refocus import Crop, padding_source, refocus_crop
from tasks.preprocess.segmentation import (
    SEGMENTATION_BACKEND,
    largest_component,
    shared_segmenter,
)
from tasks.settings import CATEGORIES, Settings

ANALYSIS_MAX_SIDE = 1024
MIN_REGION_FRACTION = 0.01  # of the 512x384 canvas: the worn garment a category replaces


# How a photo is prepared (cleaning rules, refocus, masks), apart from the models' own versions:
# a library photo prepared under another version is prepared again. v2: the refocus pads with
# the photo's backdrop (no flat band); multiple_people only when a second person is seen; a
# photo whose frame cuts through the head is given headroom for the pose model. v3: a skirt is
# the lower-body mask's seed, as trousers are (masks.GARMENT_LABELS); near the split between a
# top and the lower garment each pixel goes to the one it looks like (no strip of a hem left).
PREPARATION_VERSION = "library-preparation-v3"


@dataclass
class CategoryView:
    crop: Crop
    image: np.ndarray  # (1024, 768, 3)
    keypoints: np.ndarray  # (18, 3) on the 768x1024 canvas
    person_mask: np.ndarray  # (1024, 768) bool
    labels: np.ndarray  # (512, 384) ATR
    inpaint_mask_512: np.ndarray  # (512, 384) bool, the reference mask
    inpaint_mask: np.ndarray  # (1024, 768) bool
    pose_map: np.ndarray  # (18, 512, 384) float32
    embedding: np.ndarray  # (D,) float32, of the garment worn in this view


@dataclass
class PreparedPhoto:
    image: np.ndarray  # the analysis image
    person_mask: np.ndarray
    pose: PoseResult
    labels: np.ndarray  # ATR labels at 512 px high
    faces: list[tuple[int, int, int, int]]
    sharpness: float
    views: dict[str, CategoryView] = field(default_factory=dict)
    unsuitable: dict[str, str] = field(default_factory=dict)  # category -> reason
    backends: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        return sorted(self.views)


SKIN_LABELS = (L["head"], L["left_arm"], L["right_arm"], L["left_leg"], L["right_leg"])


def worn_garment_and_skin(
    labels: np.ndarray, category: str, size: tuple[int, int] = (768, 1024)
) -> tuple[np.ndarray, np.ndarray]:
    """The garment of ``category`` that a view's parsing ``labels`` show, and its bare skin (face,
    arms, legs), at ``size`` (width, height)."""
    resized = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    return np.isin(resized, GARMENT_LABELS[category]), np.isin(resized, SKIN_LABELS)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._last) * 1000
        self._last = now


HEADROOM = 0.3  # of the photo's height, added above a photo whose frame cuts through the head


def pose_with_headroom(pose: Callable[..., PoseResult], image: np.ndarray, person: np.ndarray, padding: np.ndarray) -> PoseResult:
    """The pose of the person; when the model finds no shoulders and the person runs off the top
    of the frame (the face cut, as catalogue crops do), asked again with the backdrop extended
    above the photo: mediapipe's detector looks for the head first and gives up on a photo that
    starts at the chin. ``padding``: the photo's ``padding_source``, whose top row is extended.
    Keypoints come back in the photo's own pixels (above it: missing)."""
    found = pose(image, person)
    shoulders = all(found.keypoints[KP[n], 2] >= MIN_SCORE for n in ("r_shoulder", "l_shoulder"))
    if shoulders or not person[0].any():
        return found
    top = round(HEADROOM * image.shape[0])
    padded = np.vstack([np.repeat(padding[:1], top, axis=0), image])
    person_padded = np.vstack([np.zeros((top, person.shape[1]), bool), person])
    again = pose(padded, person_padded)

    def back(points: np.ndarray) -> np.ndarray:
        moved = points.copy()
        moved[:, 1] -= top
        moved[moved[:, 1] < 0] = 0  # in the headroom, not the photo: missing, as out of frame is
        return moved

    return replace(again, keypoints=back(again.keypoints), hands={side: back(p) for side, p in again.hands.items()})


def prepare_model_photo(image: np.ndarray, settings: Settings) -> PreparedPhoto:
    """Raises ``PhotoRejected`` (with the rule's name) when a whole-photo rule fails."""
    timer = _Timer()
    check_size(image)
    image = fit_within(image, ANALYSIS_MAX_SIDE)
    raw_person = shared_segmenter().segment(image)
    person = largest_component(raw_person)
    timer.lap("segmentation")
    faces = shared_faces()(image)
    timer.lap("faces")
    padding = padding_source(image, person)  # the backdrop the pose's headroom and the views' padding extend
    timer.lap("padding")
    pose = pose_with_headroom(pose_backend(settings), image, person, padding)
    timer.lap("pose")
    check_people(raw_person, faces, pose.keypoints)
    value = check_sharpness(image, person)
    problems = category_problems(pose.keypoints)
    timer.lap("cleaning")

    parse_scale = MODEL_HEIGHT / image.shape[0]
    small = cv2.resize(image, (round(image.shape[1] * parse_scale), MODEL_HEIGHT), interpolation=cv2.INTER_AREA)
    small_person = cv2.resize(person.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    small_keypoints = pose.keypoints.copy()
    small_keypoints[:, :2] *= parse_scale
    parser = parsing_backend(settings)
    labels = parser(small, small_person, small_keypoints).labels
    timer.lap("parsing")

    embedder = embedding_backend(settings)
    photo = PreparedPhoto(
        image=image, person_mask=person, pose=pose, labels=labels, faces=faces, sharpness=value, unsuitable=dict(problems)
    )
    for category in CATEGORIES:
        if category in problems:
            continue
        view = _view(category, image, person, pose.keypoints, labels, parse_scale, padding, timer)
        worn = np.isin(view.labels, GARMENT_LABELS[category])
        if worn.mean() < MIN_REGION_FRACTION:
            # LaDI-VTON's mask starts from the garment worn there: without it only limbs remain
            names = "/".join(n for n, i in L.items() if i in GARMENT_LABELS[category])
            photo.unsuitable[category] = f"garment_region_not_found: no {names} in the parsing"
            continue
        view.embedding = embedder(cv2.resize(view.image, (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_AREA), worn)
        timer.lap("embedding")
        photo.views[category] = view
    photo.backends = {
        "preparation": PREPARATION_VERSION,
        "pose": pose.backend,
        "segmentation": SEGMENTATION_BACKEND,
        "faces": FACE_BACKEND,
        "parsing": parser.backend,
        "embedding": embedder.backend,
    }
    photo.timings_ms = timer.timings
    return photo


def _view(category: str, image, person, keypoints, labels, parse_scale: float, padding, timer: _Timer) -> CategoryView:
    crop = refocus_crop(category, person, keypoints)
    half = crop.rescaled(0.5)
    model_size = (MODEL_WIDTH, MODEL_HEIGHT)
    view_labels = half.of_scaled_source(parse_scale).labels(labels, model_size)
    keypoints_512 = half.keypoints(keypoints)
    view_image = crop.image(image, padding)
    view_person = crop.labels(person)
    timer.lap("refocus")
    mask_512 = inpaint_mask(category, view_labels, keypoints_512)
    mask = (
        cv2.resize(mask_512.astype(np.uint8), (mask_512.shape[1] * 2, mask_512.shape[0] * 2), interpolation=cv2.INTER_NEAREST) > 0
    )
    maps = pose_map(keypoints_512)
    timer.lap("masks")
    return CategoryView(
        crop=crop,
        image=view_image,
        keypoints=crop.keypoints(keypoints),
        person_mask=view_person,
        labels=view_labels,
        inpaint_mask_512=mask_512,
        inpaint_mask=mask,
        pose_map=maps,
        embedding=np.zeros(0, np.float32),
    )
