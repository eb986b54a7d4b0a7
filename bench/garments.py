"""Milliseconds per garment on CPU: decode, cloth mask (OpenCV border model + GrabCut, or a
rembg U2-Net when TRYON_BACKGROUND_BACKEND names one), canvas, perceptual hash.

    .venv/bin/python bench/garments.py [--repeat 5] [--threads 1]
"""

from __future__ import annotations

import sys
import time

from common import REPO, parse_args, report_medians


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], "garments", REPO / "samples" / "drop")
    from tasks.images import ImageDecodeError, decode_image
    from tasks.preprocess.backends import background_backend
    from tasks.preprocess.garment import perceptual_hash, prepare_garment
    from tasks.settings import Settings

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
    report_medians(timings, {}, "per garment", "target < 50 ms with the OpenCV backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
