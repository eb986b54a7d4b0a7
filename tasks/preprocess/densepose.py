"""DensePose through detectron2, only where detectron2 and its DensePose project are installed
(the GPU worker image builds them from source; they are not on the package registries).
Everywhere else the library records ``absent: ...`` for it; nothing is made up in its place.

Not exercised by the test suite (detectron2 cannot be installed here); the GPU image runs it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np


@functools.cache
def densepose_status() -> str:
    try:
        import densepose  # noqa: F401
        import detectron2  # noqa: F401
    except ImportError as error:
        return f"absent: {error.name or 'detectron2'} is not installed"
    return "available: detectron2 densepose"


class DensePosePredictor:
    """Body-part index map (24 DensePose parts, 0 = background) of the most confident person.
    ``config`` is a DensePose config file and ``weights`` its checkpoint, both from the model
    registry."""

    def __init__(self, config: Path, weights: Path, device: str = "cuda") -> None:
        from densepose import add_densepose_config
        from densepose.vis.extractor import DensePoseResultExtractor
        from detectron2.config import get_cfg
        from detectron2.engine import DefaultPredictor

        cfg = get_cfg()
        add_densepose_config(cfg)
        cfg.merge_from_file(str(config))
        cfg.MODEL.WEIGHTS = str(weights)
        cfg.MODEL.DEVICE = device
        cfg.freeze()
        self._predictor = DefaultPredictor(cfg)
        self._extract = DensePoseResultExtractor()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        instances = self._predictor(image[..., ::-1])["instances"].to("cpu")  # detectron2 takes BGR
        parts = np.zeros((height, width), np.uint8)
        if len(instances) == 0:
            return parts
        best = int(instances.scores.argmax())
        results, boxes = self._extract(instances[best : best + 1])
        x, y, w, h = (int(v) for v in boxes[0])
        labels = results[0].labels.numpy().astype(np.uint8)
        region = parts[y : y + h, x : x + w]
        region[:] = labels[: region.shape[0], : region.shape[1]]
        return parts
