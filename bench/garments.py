"""Garment cut-outs against the labelled mask set, backend by backend: mean IoU, worst IoU, the
cases under the bar, and milliseconds per garment (decode, mask, canvas, fingerprint).

The set: the sample garments with their masks checked by eye (tests/data/garment_masks/) and
the hard cases made from them (tests/data/garment_cases/, see make_garment_cases.py there):
white and near-white garments on white, light-grey and off-white backdrops, large prints, dark
garments on pure white, tight crops that run off the frame, drop shadows. The bar for the
default backend (issue 14): IoU >= 0.95 on every case, < 400 ms per garment on one core.

    .venv/bin/python bench/garments.py [--repeat 1] [--threads 1] [--u2net PATH.onnx]

The shipped U2-Net-p (``tryon models fetch-shipped``, which make install runs) is measured
beside the OpenCV fallback whenever it is there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from common import REPO, limit_threads

DATA = REPO / "tests" / "data"
BAR = 0.95


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the set (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for OpenCV, BLAS and ONNX Runtime")
    parser.add_argument("--u2net", type=Path, action="append", default=[], help="a U2-Net ONNX file to run through rembg as well")
    args = parser.parse_args()
    limit_threads(args.threads)
    return args


def labelled_set() -> dict[str, tuple[bytes, np.ndarray]]:
    """case -> (image bytes, true mask)."""
    from PIL import Image

    cases = {}
    for reference in sorted((DATA / "garment_masks").glob("*.png")):
        image = REPO / "samples" / "drop" / reference.stem / "front.jpg"
        cases[f"{reference.stem}--as-shot"] = (image.read_bytes(), np.asarray(Image.open(reference).convert("L")) > 127)
    for image in sorted((DATA / "garment_cases").glob("*.jpg")):
        cases[image.stem] = (image.read_bytes(), np.asarray(Image.open(image.with_suffix(".png")).convert("L")) > 127)
    return cases


class _Given:
    """A mask already computed, handed to prepare_garment (so the bench times the same work once)."""

    backend = "given"

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def __call__(self, _image: np.ndarray) -> np.ndarray:
        return self.mask


def measure(masker: object, cases: dict[str, tuple[bytes, np.ndarray]], repeat: int) -> dict[str, tuple[float, float]]:
    """case -> (IoU, median ms); a refused garment has IoU 0."""
    from tasks.images import decode_image
    from tasks.preprocess.garment import GarmentMaskError, perceptual_hash, prepare_garment

    results = {}
    for name, (blob, truth) in cases.items():
        timings, iou = [], 0.0
        for _ in range(repeat):
            start = time.perf_counter()
            image = decode_image(blob).image
            mask = masker(image)
            try:
                garment = prepare_garment(image, _Given(mask))
                perceptual_hash(garment.cloth, garment.mask)
            except GarmentMaskError:
                mask = np.zeros_like(truth)
            timings.append((time.perf_counter() - start) * 1000)
            iou = float((mask & truth).sum() / max(1, (mask | truth).sum()))
        results[name] = (iou, float(np.median(timings)))
    return results


def main() -> int:
    args = parse_args()
    from tasks.preprocess.backends import background_backend
    from tasks.preprocess.garment import OpenCVMasker, RembgMasker
    from tasks.settings import Settings
    from tasks.shipped_models import SHIPPED

    cases = labelled_set()
    backends = {"opencv": OpenCVMasker()}
    if SHIPPED["u2netp"].path.exists():
        backends["u2netp (shipped)"] = background_backend(Settings(background_backend="u2netp"))
    for path in args.u2net:
        backends[f"rembg:{path.stem}"] = RembgMasker(path, path.stem, Path(sys.prefix) / "share" / "rembg-bench")
    results = {name: measure(masker, cases, args.repeat) for name, masker in backends.items()}
    print(f"{len(cases)} labelled garments, {args.repeat} pass(es), {args.threads} thread(s); IoU against the true mask\n")
    print(f"{'case':<40}" + "".join(f"{name:>18}" for name in backends))
    for case in sorted(cases, key=lambda c: min(r[c][0] for r in results.values())):
        if min(r[case][0] for r in results.values()) < BAR:
            print(f"{case:<40}" + "".join(f"{r[case][0]:>18.3f}" for r in results.values()))
    print(f"{'(every other case >= ' + str(BAR) + ' with each backend)':<40}\n")
    summaries = {"mean IoU": lambda v: np.mean([i for i, _ in v]), "worst IoU": lambda v: min(i for i, _ in v),
                 f"cases < {BAR}": lambda v: sum(i < BAR for i, _ in v), "median ms": lambda v: np.median([t for _, t in v])}
    for label, pick in summaries.items():
        print(f"{label:<40}" + "".join(f"{pick(list(r.values())):>18.3f}" for r in results.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
