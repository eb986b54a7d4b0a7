"""Fewer-step scheduling: DPM-Solver++ (2nd order, multistep) at 10, 20 and 25 steps against the
reference 50-step DDIM, on the same inputs and seeds. Prints the denoising time of each and how
far each result is from a 250-step DDIM solution of the same model (RMSE of the decoded images
on a 0-255 scale, and PSNR).

With random weights (the default: no weights can be downloaded here) the distance measures how
well each schedule solves this network's sampling ODE, not perceptual quality; with
``--registry`` pointing at the real weights the same command measures the published model.

    .venv/bin/python bench/schedulers.py [--registry models.yaml] [--device cuda]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inference import fixture_samples  # noqa: E402  (bench/ is not a package)

RUNS = [("ddim", 50), ("dpm-solver++", 25), ("dpm-solver++", 20), ("dpm-solver++", 10)]
REFERENCE = ("ddim", 250)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--registry", type=Path, help="a model registry with the LaDI-VTON entries (default: small random weights)"
    )
    parser.add_argument("--dataset", default="vitonhd")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32"))
    args = parser.parse_args()

    import torch

    from tasks.inference.ladi_vton.components import SMALL, load_components, random_components
    from tasks.inference.ladi_vton.tensors import resolve_precision, sample_tensors
    from tasks.settings import Settings

    device = torch.device(args.device)
    dtype = resolve_precision(args.precision or "auto", device)
    if args.registry:
        components, label = load_components(Settings(model_registry=args.registry), args.dataset), f"weights from {args.registry}"
    else:
        components, label = random_components(SMALL), "small configuration, random weights"
    samples = fixture_samples()
    tensors = sample_tensors(samples)
    categories = [s.category for s in samples]

    def run(kind: str, steps: int) -> tuple[torch.Tensor, float]:
        pipe = components.pipeline(kind).to(device, dtype)
        out = pipe(
            **tensors,
            categories=categories,
            num_inference_steps=steps,
            generators=[torch.Generator().manual_seed(s.seed) for s in samples],
        )
        return out.images.float().cpu() * 255, out.timings["denoise"]

    print(
        f"{label}; {device} {str(dtype).removeprefix('torch.')}; {len(samples)} fixture samples (one per category), guidance 7.5"
    )
    reference, _ = run(*REFERENCE)
    baseline = None
    print(f"{'schedule':<22} {'denoise s':>9} {'vs DDIM-50':>10} {'RMSE vs DDIM-250':>17} {'PSNR dB':>8}")
    for kind, steps in RUNS:
        images, seconds = run(kind, steps)
        baseline = baseline or seconds
        rmse = float(((images - reference) ** 2).mean().sqrt())
        psnr = 20 * math.log10(255 / rmse) if rmse > 0 else float("inf")
        print(f"{kind + ' ' + str(steps):<22} {seconds:>9.2f} {seconds / baseline:>9.2f}x {rmse:>17.2f} {psnr:>8.1f}")
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - start:.0f} s)")
    sys.exit(code)
