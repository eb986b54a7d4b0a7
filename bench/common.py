"""What the CPU benchmarks share: their command line and the thread limits, set before
OpenCV and numpy are imported so every figure is per core."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNET_GFLOP_PER_STEP = 510.0  # full-size UNet, one image, one step, 64x48 latents
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0}


def bf16_peak(device: str, override: float | None = None) -> float | None:
    """The dense bf16 peak (TFLOP/s) of a CUDA device, by its name; None when unknown."""
    if override or not device.startswith("cuda"):
        return override
    import torch

    name = torch.cuda.get_device_name(torch.device(device))
    return next((value for key, value in BF16_PEAK_TFLOPS.items() if key in name), None)


def unet_tflops(images: int, steps: int, guidance: float, denoise_seconds: float) -> float:
    """TFLOP/s of the full-size UNet over the denoising loop (guidance doubles the passes)."""
    return images * steps * (2 if guidance > 1 else 1) * UNET_GFLOP_PER_STEP / denoise_seconds / 1000


def parse_args(description: str, inputs: str, default_inputs: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the inputs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for OpenCV and BLAS")
    parser.add_argument(f"--{inputs}", type=Path, default=default_inputs, help="folder of inputs")
    args = parser.parse_args()
    limit_threads(args.threads)
    return args


# the variables that size torch's, OpenMP's and the BLAS's thread pools (read when those load)
THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """OpenCV's and BLAS's threads (set before either is imported), and the repo on sys.path."""
    for variable in THREAD_POOLS:
        os.environ[variable] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    sys.path.insert(0, str(REPO))


def report_medians(timings: dict[str, list[float]], notes: dict[str, str], label: str, target: str) -> None:
    """Each input's median time over the passes, then their mean against the target."""
    import numpy as np

    for name, values in timings.items():
        print(f"  {name:<16} {np.median(values):7.1f} ms  {notes.get(name, '')}".rstrip())
    mean = float(np.mean([np.median(v) for v in timings.values()]))
    print(f"mean {label}: {mean:.1f} ms ({target})")
