"""Garment preprocessing for product shots: the garment cut out (``garment_mask``) and composited
on white, centred on a 768x1024 (3:4) canvas; whether a photo shows a person wearing it; a
fingerprint to find the same garment again."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tasks.images import fit_to_canvas, fit_within
from tasks.preprocess.garment_mask import CLASSICAL_BACKEND, OpenCVMasker, doubtful_cut

WHITE = (255, 255, 255)


class GarmentMaskError(ValueError):
    """No garment could be separated from the background; the message is the reason."""


CUT_CHECKS = "doubtful-cut-v2"  # the checks a cut-out passes (``doubtful_cut``; v2: an outline cut across one surface); one made before them is made again


class GarmentMaskDoubtful(GarmentMaskError):
    """A cut-out was made but is probably not the whole garment (``garment_mask.doubtful_cut``):
    the input goes to quarantine with the reason, for a person to look at."""


@dataclass
class PreparedGarment:
    cloth: np.ndarray  # (1024, 768, 3) uint8, garment on white
    mask: np.ndarray  # (1024, 768) bool
    backend: str = CLASSICAL_BACKEND
    method: str = "classical"  # how the mask was cut (garment_mask.GarmentCut.method)


def prepare_garment(image: np.ndarray, masker=None, margin: float = 0.06) -> PreparedGarment:
    """Mask the garment, crop to it, composite on white and centre on the 3:4 canvas with a
    margin, without distortion."""
    masker = masker or OpenCVMasker()
    cut = masker(image)
    mask = cut.mask
    if mask.sum() < 0.01 * mask.size:
        raise GarmentMaskError("garment_mask_empty: no garment found against the background")
    doubt = cut.doubt if cut.judged else doubtful_cut(image, mask)
    if doubt is not None:  # never a part of the garment passed off as the garment
        raise GarmentMaskDoubtful(f"garment_mask_doubtful: {doubt}")
    x0, y0, w, h = cv2.boundingRect(mask.astype(np.uint8))
    cloth, cloth_mask = fit_to_canvas(image[y0 : y0 + h, x0 : x0 + w], WHITE, mask=mask[y0 : y0 + h, x0 : x0 + w], margin=margin)
    assert cloth_mask is not None  # fit_to_canvas returns the mask it was given, fitted
    # white outside the garment (also where resampling bled its colour past the mask's edge)
    cloth = np.where(cloth_mask[..., None], cloth, np.uint8(255))
    return PreparedGarment(cloth=cloth, mask=cloth_mask, backend=masker.backend, method=cut.method)


WORN_BY_PERSON_VERSION = 2  # bumped when the test below changes: verdicts kept with a garment's content name it


def worn_by_person(image: np.ndarray, pose=None) -> bool:
    """A person wears the garment in the photo: ``pose`` (the configured pose backend;
    mediapipe when None) finds an upright body, and bare skin shows where a body shows it
    (the face, or the hands beyond the wrists).

    A flat-lay garment can give the pose model a body of its own (the collar as a head, the
    sleeves as arms, the hem as hips) and a print can give it a face; neither has skin at the
    head and hands of that body. A face printed on a garment turns the body upside down. Left
    alone: a garment of skin colour whose inside shows at the collar can pass as a neck.

    A photo without a single skin-coloured pixel cannot pass the skin test whatever body the
    pose model finds, so the pose model (the costly part) is asked only about photos with some."""
    from tasks.preprocess.pose import shared_pose

    small = fit_within(image, 1024)
    skin = skin_pixels(small)
    if not skin.any():
        return False
    keypoints = (pose or shared_pose())(small).keypoints
    return _upright_body(keypoints) and _skin_at_head_or_hands(skin, keypoints)


def skin_pixels(image: np.ndarray) -> np.ndarray:
    """Pixels in the skin range of YCrCb (Y > 40, Cr 133-173, Cb 77-127; white, grey and black
    backdrops sit at 128/128, outside it)."""
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    return (y > 40) & (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)


def _upright_body(kp: np.ndarray) -> bool:
    """Both shoulders, hips and elbows clearly seen, the hips below the shoulders, the nose, if
    seen, above them."""
    from tasks.preprocess.pose import KP

    if not all(kp[KP[n], 2] >= 0.8 for n in ("r_shoulder", "l_shoulder", "r_hip", "l_hip")):
        return False
    if not all(kp[KP[n], 2] >= 0.7 for n in ("r_elbow", "l_elbow")):
        return False
    shoulder_y = (kp[KP["r_shoulder"], 1] + kp[KP["l_shoulder"], 1]) / 2
    hip_y = (kp[KP["r_hip"], 1] + kp[KP["l_hip"], 1]) / 2
    shoulder_width = abs(kp[KP["r_shoulder"], 0] - kp[KP["l_shoulder"], 0])
    upright = hip_y - shoulder_y >= 0.6 * shoulder_width
    head_up = kp[KP["nose"], 2] < 0.5 or kp[KP["nose"], 1] < shoulder_y
    return bool(upright and head_up)


def _skin_at_head_or_hands(skin: np.ndarray, kp: np.ndarray) -> bool:
    """Most of a disc at the face (nose, eyes) or just beyond a wrist is skin (``skin`` is
    :func:`skin_pixels` of the image)."""
    from tasks.preprocess.pose import KP

    seen = kp[:, 2] >= 0.5
    points = [kp[KP[n], :2] for n in ("nose", "r_eye", "l_eye") if seen[KP[n]]]
    for side in ("r", "l"):
        wrist, elbow = KP[f"{side}_wrist"], KP[f"{side}_elbow"]
        if seen[wrist] and seen[elbow]:
            points.append(kp[wrist, :2] + 0.3 * (kp[wrist, :2] - kp[elbow, :2]))
    radius = max(3, int(0.06 * abs(kp[KP["r_shoulder"], 0] - kp[KP["l_shoulder"], 0])))
    height, width = skin.shape
    for x, y in points:
        disc = np.zeros((height, width), np.uint8)
        cv2.circle(disc, (int(x), int(y)), radius, 1, -1)
        inside = disc > 0
        if inside.any() and skin[inside].mean() >= 0.5:
            return True
    return False


def perceptual_hash(cloth: np.ndarray, mask: np.ndarray) -> str:
    """A fingerprint of the garment canvas: a 64-bit DCT hash of its grey levels and its mean
    Lab colour, as hex ``hash-LLaabb``. The same product re-shot, re-encoded or re-framed lands
    within a few bits and the same colour; the same style in another colour (another SKU) keeps
    the hash but not the colour."""
    small = cv2.resize(cloth, (96, 128), interpolation=cv2.INTER_AREA)
    grey = cv2.resize(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(grey)[:8, :8].ravel()[1:]  # without the DC term
    bits = np.append(low > np.median(low), False)
    small_mask = cv2.resize(mask.astype(np.uint8), (96, 128), interpolation=cv2.INTER_NEAREST) > 0
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)[small_mask].mean(axis=0) if small_mask.any() else np.zeros(3)
    colour = "".join(f"{int(round(v)):02x}" for v in lab)
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}-{colour}"


def same_garment(a: str, b: str, max_bits: int = 8, max_colour: float = 12.0) -> bool:
    """Two fingerprints are one garment: hashes within ``max_bits`` and mean colours within
    ``max_colour`` (Lab units of OpenCV's 8-bit scale)."""
    hash_a, colour_a = a.split("-")
    hash_b, colour_b = b.split("-")
    lab_a = np.array([int(colour_a[i : i + 2], 16) for i in (0, 2, 4)], float)
    lab_b = np.array([int(colour_b[i : i + 2], 16) for i in (0, 2, 4)], float)
    return (int(hash_a, 16) ^ int(hash_b, 16)).bit_count() <= max_bits and float(np.linalg.norm(lab_a - lab_b)) <= max_colour
