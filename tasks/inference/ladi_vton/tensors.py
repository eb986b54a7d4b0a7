"""Between the pipeline and the pipeline's world: canvas-sized samples to the model's tensors, a
model-sized result back into the full-resolution photo, and the device and precision to run on."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from tasks.inference.engine import TryOnSample
from tasks.inference.ladi_vton.registry import MODEL_HEIGHT, MODEL_WIDTH
from tasks.preprocess.masks import pose_map

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; expected auto, {', '.join(PRECISIONS)}")
    return PRECISIONS[name]


def sample_tensors(samples: list[TryOnSample]) -> dict[str, torch.Tensor]:
    """Canvas-sized samples -> the pipeline's (B, C, 512, 384) image, mask, pose map and cloth."""
    size = (MODEL_WIDTH, MODEL_HEIGHT)

    def rgb(array: np.ndarray) -> torch.Tensor:
        small = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
        return torch.from_numpy(small).permute(2, 0, 1).float() / 127.5 - 1

    images, masks, poses, cloths = [], [], [], []
    for sample in samples:
        height, width = sample.person.shape[:2]
        images.append(rgb(sample.person))
        cloths.append(rgb(sample.cloth))
        mask = cv2.resize(sample.inpaint_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        masks.append(torch.from_numpy(mask).float()[None])
        keypoints = sample.keypoints.astype(np.float32).copy()
        keypoints[:, 0] *= MODEL_WIDTH / width
        keypoints[:, 1] *= MODEL_HEIGHT / height
        poses.append(torch.from_numpy(pose_map(keypoints, (MODEL_HEIGHT, MODEL_WIDTH))))
    return {
        "image": torch.stack(images),
        "mask": torch.stack(masks),
        "pose_map": torch.stack(poses),
        "cloth": torch.stack(cloths),
    }


def paste_back(generated: np.ndarray, person: np.ndarray, inpaint_mask: np.ndarray) -> np.ndarray:
    """Upscale a model-sized result to the photo and keep the photo's pixels outside the inpaint
    region (a 4 px feathered seam just outside it)."""
    height, width = person.shape[:2]
    large = cv2.resize(generated, (width, height), interpolation=cv2.INTER_CUBIC)
    region = cv2.dilate(inpaint_mask.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=1).astype(np.float32)
    weight = np.maximum(cv2.GaussianBlur(region, (0, 0), 1.5), inpaint_mask.astype(np.float32))[..., None]
    return np.clip(large * weight + person * (1 - weight) + 0.5, 0, 255).astype(np.uint8)
