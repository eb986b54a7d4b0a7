"""Appearance embeddings of a garment region, and k-means clusters over them.

The same backend embeds the garment worn in each model photo (its parsing region) and each new
catalogue garment (its cloth mask), so matching compares like with like.

- ``ColourTextureEmbedder`` (fallback, no weights): soft Lab colour histograms (a*b* jointly,
  L* apart, Gaussian-smoothed so near colours are near) and a gradient-orientation texture
  histogram, square-rooted (Hellinger) and L2-normalised.
- ``OnnxImageEmbedder``: a CLIP-style image tower exported to ONNX (operator-provided weights
  from the model registry): input (1, 3, 224, 224) with CLIP's normalisation, output (1, D).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tasks.preprocess.onnx_runtime import ON_CPU, OnnxPlacement, device_of

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
COLOUR_TEXTURE_BACKEND = "colour-texture-v1"


def _region_crop(image: np.ndarray, mask: np.ndarray, fill: int = 255) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()
    crop[~mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]] = fill
    return crop


class ColourTextureEmbedder:
    backend = COLOUR_TEXTURE_BACKEND
    device = "cpu"
    ab_bins, l_bins, orientation_bins = 12, 6, 8

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if mask.sum() < 50:
            raise ValueError("region too small to embed")
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[mask].astype(np.float32)
        ab, _, _ = np.histogram2d(lab[:, 1], lab[:, 2], bins=self.ab_bins, range=[[0, 256], [0, 256]])
        ab = cv2.GaussianBlur(ab.astype(np.float32), (0, 0), 1.0).ravel()
        lightness = np.histogram(lab[:, 0], bins=self.l_bins, range=(0, 256))[0].astype(np.float32)
        lightness = np.convolve(lightness, [0.25, 0.5, 0.25], mode="same").astype(np.float32)
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
        inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # not the outline
        magnitude, angle = np.hypot(gx, gy)[inner], (np.arctan2(gy, gx)[inner] % np.pi)
        texture = np.histogram(angle, bins=self.orientation_bins, range=(0, np.pi), weights=magnitude)[0].astype(np.float32)
        texture = np.append(texture, float(np.mean(magnitude)) if magnitude.size else 0.0)
        parts = [(ab, 0.6), (lightness, 0.25), (texture, 0.15)]
        vector = np.concatenate([weight * np.sqrt(part / max(part.sum(), 1e-9)) for part, weight in parts])
        return (vector / np.linalg.norm(vector)).astype(np.float32)


class OnnxImageEmbedder:
    def __init__(self, model_path: Path, version: str, placement: OnnxPlacement | None = None) -> None:
        self._session = (placement or ON_CPU).session(str(model_path))
        self.device = device_of(self._session)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, 224, 224]:
            raise ValueError(f"{model_path}: expected one input (N, 3, 224, 224), got {[(i.name, i.shape) for i in inputs]}")
        self._input = inputs[0].name
        self.backend = f"clip-image-onnx:{version}"

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        crop = cv2.resize(_region_crop(image, mask), (224, 224), interpolation=cv2.INTER_AREA)
        tensor = ((crop.astype(np.float32) / 255.0 - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1)[None]
        vector = self._session.run(None, {self._input: tensor})[0].reshape(-1).astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-9)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(centroids (k, D), assignment (N,)) by k-means++ and Lloyd iterations; deterministic for
    a seed. ``k`` is capped at the number of distinct vectors."""
    vectors = np.asarray(vectors, np.float64)
    k = max(1, min(k, len(np.unique(vectors.round(6), axis=0))))
    rng = np.random.default_rng(seed)
    seeds = [vectors[rng.integers(len(vectors))]]
    for _ in range(1, k):
        distance = np.min([((vectors - c) ** 2).sum(axis=1) for c in seeds], axis=0)
        seeds.append(vectors[rng.choice(len(vectors), p=distance / distance.sum())])
    centroids = np.array(seeds)
    assignment = np.zeros(len(vectors), int)
    for _ in range(iterations):
        distances = ((vectors[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
        new_assignment = distances.argmin(axis=1)
        if _ and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        for index in range(k):
            members = vectors[assignment == index]
            if len(members):
                centroids[index] = members.mean(axis=0)
    return centroids.astype(np.float32), assignment


def cluster_count(n: int) -> int:
    """The square root of the number of photos, at most 16."""
    return int(min(16, max(1, round(float(np.sqrt(n))))))
