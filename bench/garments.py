"""Milliseconds per garment on CPU: decode, cloth mask (OpenCV border model + GrabCut, or a
rembg U2-Net when TRYON_BACKGROUND_BACKEND names one), canvas, perceptual hash.

    .venv/bin/python bench/garments.py [--repeat 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--garments", type=Path, default=Path(__file__).resolve().parent.parent / "samples" / "drop")
    args = parser.parse_args()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)

    import cv2
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tasks.images import ImageDecodeError, decode_image
    from tasks.preprocess.backends import background_backend
    from tasks.preprocess.garment import perceptual_hash, prepare_garment
    from tasks.settings import Settings

    cv2.setNumThreads(args.threads)
    masker = background_backend(Settings())
    blobs = {}
    for path in sorted(args.garments.glob("*/front.*")):
        try:
            decode_image(path.read_bytes())
            blobs[path.parent.name] = path.read_bytes()
        except ImageDecodeError:
            continue  # the sample drop's deliberately broken upload
    for blob in blobs.values():
        prepare_garment(decode_image(blob).image, masker)
    timings: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for name, blob in blobs.items():
            start = time.perf_counter()
            garment = prepare_garment(decode_image(blob).image, masker)
            perceptual_hash(garment.cloth, garment.mask)
            timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)
    print(f"{len(blobs)} garments x {args.repeat} passes, {args.threads} thread(s), backend {masker.backend}")
    for name, values in timings.items():
        print(f"  {name:<16} {np.median(values):6.1f} ms")
    mean = float(np.mean([np.median(v) for v in timings.values()]))
    print(f"mean per garment: {mean:.1f} ms (target < 50 ms with the OpenCV backend)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
