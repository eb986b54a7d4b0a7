"""Garment cut-outs against the labelled mask set, backend by backend: mean and worst IoU, mean
and worst boundary F-score (the outline within 2 px of the true one, at the photo's full size:
a staircase edge scores low although its IoU barely moves), the cases under either bar, and
milliseconds per garment (decode, mask, canvas, fingerprint). The white printed garments on a
light backdrop (``--whiteprint-on-light``) are the cases intake must refuse as doubtful: refused
so, they score 1; cut, they score what the cut-out scores.

The set: the sample garments with their masks checked by eye (tests/data/garment_masks/) and
the hard cases made from them (tests/data/garment_cases/, see make_garment_cases.py there):
white and near-white garments on white, light-grey and off-white backdrops, large prints, dark
garments on pure white, tight crops that run off the frame, drop shadows. The bar for the
default backend (issue 14): IoU >= 0.95 on every case, < 400 ms per garment on one core; and
(issue 33) a boundary F-score >= 0.90 on every case.

    .venv/bin/python bench/garments.py [--repeat 1] [--threads 1] [--u2net PATH.onnx]

Columns: the classical border cut alone (``opencv``, no weights), the shipped U2-Net-p alone
(``tryon models fetch-shipped``, which make install runs), and the default that combines them;
``--u2net`` adds another U2-Net ONNX, alone and combined. The model's share of the time is
printed apart (``model ms``: one U2-Net-p run at 320x320 where the backend ran it).
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
EDGE_BAR = 0.90  # boundary F-score within EDGE_PX of the true outline
EDGE_PX = 2.0


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
    """A cut already made, handed to prepare_garment (so the bench times the same work once)."""

    backend = "given"

    def __init__(self, cut) -> None:
        self.cut = cut

    def __call__(self, _image: np.ndarray):
        return self.cut


class _Timed:
    """Counts the milliseconds a model spends in ``probability``."""

    def __init__(self, model) -> None:
        self.model, self.ms = model, 0.0

    def probability(self, image: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.model.probability(image)
        finally:
            self.ms += (time.perf_counter() - start) * 1000


DOUBTFUL = "--whiteprint-on-light"  # the cases intake must refuse (garment_mask_doubtful), not cut


def measure(masker, cases: dict[str, tuple[bytes, np.ndarray]], repeat: int) -> dict[str, tuple[float, float, float, float]]:
    """case -> (IoU, median ms, model ms of the last pass, boundary F-score); a refused garment
    scores 0, a ``DOUBTFUL`` one refused as doubtful 1 (what intake must do with it)."""
    from tasks.images import decode_image
    from tasks.preprocess.garment import GarmentMaskDoubtful, GarmentMaskError, perceptual_hash, prepare_garment
    from tasks.preprocess.segmentation import boundary_f_score

    timed = getattr(masker, "model", None)
    results = {}
    for name, (blob, truth) in cases.items():
        timings, iou = [], 0.0
        for _ in range(repeat):
            if timed is not None:
                timed.ms = 0.0
            start = time.perf_counter()
            image = decode_image(blob).image
            cut = masker(image)
            mask = cut.mask
            try:
                garment = prepare_garment(image, _Given(cut))
                perceptual_hash(garment.cloth, garment.mask)
            except GarmentMaskDoubtful:
                mask = truth if DOUBTFUL in name else np.zeros_like(truth)
            except GarmentMaskError:
                mask = np.zeros_like(truth)
            timings.append((time.perf_counter() - start) * 1000)
            iou = float((mask & truth).sum() / max(1, (mask | truth).sum()))
        edge = boundary_f_score(mask, truth, EDGE_PX)
        results[name] = (iou, float(np.median(timings)), timed.ms if timed is not None else 0.0, edge)
    return results


class _ModelAlone:
    """The model's own mask (threshold 0.5, largest piece, holes filled), timed like the combination."""

    def __init__(self, model) -> None:
        self.model = _Timed(model)
        self.backend = model.backend

    def __call__(self, image: np.ndarray):
        from tasks.preprocess.garment_mask import GarmentCut, fill_holes
        from tasks.preprocess.segmentation import largest_component

        return GarmentCut(fill_holes(largest_component(self.model.probability(image) > 0.5)), "model")


def main() -> int:
    args = parse_args()
    from tasks.preprocess.backends import background_backend
    from tasks.preprocess.garment_mask import CombinedMasker, OpenCVMasker, U2NetMasker
    from tasks.settings import Settings
    from tasks.shipped_models import SHIPPED

    cases = labelled_set()
    backends = {"opencv": OpenCVMasker()}
    models = {}
    if SHIPPED["u2netp"].path.exists():
        models["u2netp"] = background_backend(Settings(background_backend="u2netp")).model
    for path in args.u2net:
        models[path.stem] = U2NetMasker(path, path.stem, Path(sys.prefix) / "share" / "rembg-bench")
    for name, model in models.items():
        backends[f"{name} alone"] = _ModelAlone(model)
        combined = CombinedMasker(model)
        combined.model = _Timed(model)
        backends[f"{name} + opencv"] = combined
    results = {name: measure(masker, cases, args.repeat) for name, masker in backends.items()}
    print(f"{len(cases)} labelled garments, {args.repeat} pass(es), {args.threads} thread(s); against the true mask\n")
    print(f"default backend: {background_backend(Settings()).backend}\n")
    for label, column, bar in (("IoU", 0, BAR), (f"boundary F ({EDGE_PX:g} px)", 3, EDGE_BAR)):
        print(f"{label + ': case':<40}" + "".join(f"{name:>18}" for name in backends))
        for case in sorted(cases, key=lambda c: min(r[c][column] for r in results.values())):
            if min(r[case][column] for r in results.values()) < bar:
                print(f"{case:<40}" + "".join(f"{r[case][column]:>18.3f}" for r in results.values()))
        print(f"{'(every other case >= ' + str(bar) + ' with each backend)':<40}\n")
    summaries = {
        "mean IoU": lambda v: np.mean([r[0] for r in v]),
        "worst IoU": lambda v: min(r[0] for r in v),
        f"cases IoU < {BAR}": lambda v: sum(r[0] < BAR for r in v),
        "mean boundary F": lambda v: np.mean([r[3] for r in v]),
        "worst boundary F": lambda v: min(r[3] for r in v),
        f"cases boundary F < {EDGE_BAR}": lambda v: sum(r[3] < EDGE_BAR for r in v),
        "median ms": lambda v: np.median([r[1] for r in v]),
        "max ms": lambda v: max(r[1] for r in v),
        "mean ms": lambda v: np.mean([r[1] for r in v]),
        "mean model ms": lambda v: np.mean([r[2] for r in v]),
        "cases the model ran": lambda v: sum(r[2] > 0 for r in v),
    }
    for label, pick in summaries.items():
        print(f"{label:<40}" + "".join(f"{pick(list(r.values())):>18.3f}" for r in results.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
