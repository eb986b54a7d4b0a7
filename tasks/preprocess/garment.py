"""Garment preprocessing for product shots on plain backgrounds: an OpenCV cloth mask from a
border-colour model, and the garment composited on white, centred on a 768x1024 (3:4) canvas.

The border model assumes the photo's edges show background. It is the labelled fallback;
a rembg backend for hard backgrounds comes with the garment-intake work.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tasks.images import fit_to_canvas, fit_within
from tasks.preprocess.segmentation import largest_component

GARMENT_MASK_BACKEND = "opencv-border-grabcut-v3"
WHITE = (255, 255, 255)


class GarmentMaskError(ValueError):
    """No garment could be separated from the background; the message is the reason."""


@dataclass
class PreparedGarment:
    cloth: np.ndarray  # (1024, 768, 3) uint8, garment on white
    mask: np.ndarray  # (1024, 768) bool
    backend: str = GARMENT_MASK_BACKEND


def background_model(border_lab: np.ndarray, bin_size: float = 6.0, tolerance: float = 12.0) -> tuple[np.ndarray, float]:
    """The backdrop's Lab colour and spread from the photo's border pixels: the largest cluster
    of them, not all of them. A garment cropped tight runs off the frame and covers part of the
    border; taken whole, the border's spread grew so large that no pixel passed the threshold
    and a dark garment on pure white was refused as having no mask."""
    bins, counts = np.unique(np.round(border_lab / bin_size).astype(np.int32), axis=0, return_counts=True)
    mode = bins[counts.argmax()] * bin_size
    inliers = border_lab[np.linalg.norm(border_lab - mode, axis=1) < tolerance]
    background = np.median(inliers, axis=0)
    return background, float(np.percentile(np.linalg.norm(inliers - background, axis=1), 99))


def border_colour_mask(image: np.ndarray, border: int = 4, min_distance: float = 6.0, work_height: int = 512) -> np.ndarray:
    """Foreground = pixels whose Lab colour differs from the backdrop model estimated on the
    image border (``background_model``), refined by GrabCut, largest component, holes filled.
    The threshold follows the backdrop's own spread, down to ``min_distance`` (6 units of
    OpenCV's 8-bit Lab) on a clean backdrop, so a white garment on white is found by its
    shading and rim. Computed at ``work_height`` px and scaled back (cost, not accuracy: the
    edge moves by under a pixel of the work size)."""
    height, width = image.shape[:2]
    scale = min(1.0, work_height / height)
    work = cv2.resize(image, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else image
    lab = cv2.cvtColor(work, cv2.COLOR_RGB2LAB).astype(np.float32)
    edges = np.concatenate(
        [lab[:border].reshape(-1, 3), lab[-border:].reshape(-1, 3), lab[:, :border].reshape(-1, 3), lab[:, -border:].reshape(-1, 3)]
    )
    background, spread = background_model(edges)
    distance = np.sqrt(((lab - background) ** 2).sum(axis=2))
    threshold = max(min_distance, spread * 1.5)
    mask = (distance > threshold).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = largest_component(mask)
    if mask.any():
        mask = fill_holes(largest_component(grabcut_refine(work, mask)))
    if scale < 1:
        mask = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
    return mask


def grabcut_refine(image: np.ndarray, mask: np.ndarray, work_height: int = 192, band: int = 3) -> np.ndarray:
    """One GrabCut pass at ``work_height`` px: inside the mask is probable garment, a band of
    ``band`` px around its edge undecided, the rest certain background. Cleans shadows and
    background-coloured edges the colour threshold let through; the result is restricted to
    the mask grown by the band, so GrabCut cannot wander into the background."""
    scale = work_height / image.shape[0]
    size = (max(8, round(image.shape[1] * scale)), work_height)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    grown = cv2.dilate(small_mask, np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    core = cv2.erode(small_mask, np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    labels = np.full(small_mask.shape, cv2.GC_BGD, np.uint8)
    labels[grown > 0] = cv2.GC_PR_BGD
    labels[small_mask > 0] = cv2.GC_PR_FGD
    labels[core > 0] = cv2.GC_FGD
    if not (labels == cv2.GC_BGD).any() or not core.any():
        return mask
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means on OpenCV's global RNG: same bytes, same mask
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, background, foreground, 1, cv2.GC_INIT_WITH_MASK)
    refined = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    refined = cv2.resize(refined, mask.shape[::-1], interpolation=cv2.INTER_LINEAR) > 0
    # keep full-resolution edges where the colour mask and GrabCut agree near the border
    edge = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return (refined & edge) | (mask & cv2.erode(refined.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions enclosed by the mask (prints, logos and white details inside a garment)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


class OpenCVMasker:
    """The fallback for plain backgrounds (no weights)."""

    backend = GARMENT_MASK_BACKEND

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return border_colour_mask(image)


class RembgMasker:
    """rembg with an operator-provided U2-Net ONNX (rembg's ``u2net_custom`` session). rembg
    only loads models from inside its models folder (``U2NET_HOME``), so the verified file is
    copied into ``models_dir`` and ``U2NET_HOME`` pointed there for this process. The session
    is always passed: without one rembg reaches for a model it would download."""

    def __init__(self, model_path, version: str, models_dir) -> None:
        import os
        import shutil
        from pathlib import Path

        models_dir = Path(models_dir)
        models_dir.mkdir(parents=True, exist_ok=True)
        target = models_dir / Path(model_path).name
        if not target.exists() or target.stat().st_size != Path(model_path).stat().st_size:
            shutil.copyfile(model_path, target)
        os.environ["U2NET_HOME"] = str(models_dir)
        import rembg

        self._session = rembg.new_session("u2net_custom", model_path=str(target))
        self.backend = f"rembg-u2net-onnx:{version}"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import rembg
        from PIL import Image

        alpha = np.asarray(rembg.remove(Image.fromarray(image), session=self._session, only_mask=True))
        return fill_holes(largest_component(alpha > 127))


def prepare_garment(image: np.ndarray, masker=None, margin: float = 0.06) -> PreparedGarment:
    """Mask the garment, crop to it, composite on white and centre on the 3:4 canvas with a
    margin, without distortion."""
    masker = masker or OpenCVMasker()
    mask = masker(image)
    if mask.sum() < 0.01 * mask.size:
        raise GarmentMaskError("garment_mask_empty: no garment found against the background")
    x0, y0, w, h = cv2.boundingRect(mask.astype(np.uint8))
    cloth, cloth_mask = fit_to_canvas(image[y0 : y0 + h, x0 : x0 + w], WHITE, mask=mask[y0 : y0 + h, x0 : x0 + w], margin=margin)
    # white outside the garment (also where resampling bled its colour past the mask's edge)
    cloth = np.where(cloth_mask[..., None], cloth, np.uint8(255))
    return PreparedGarment(cloth=cloth, mask=cloth_mask, backend=masker.backend)



def worn_by_person(image: np.ndarray) -> bool:
    """A person in the photo: mediapipe finds a plausible body (both shoulders, hips and elbows
    clearly visible, the hips below the shoulders, the nose, if seen, above them). A print on
    a flat-lay garment can produce a face and a few keypoints, but not an upright body."""
    from tasks.preprocess.pose import KP, shared_pose

    kp = shared_pose()(fit_within(image, 1024)).keypoints
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
