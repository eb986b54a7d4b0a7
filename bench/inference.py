"""LaDI-VTON inference: per-image wall time at batch 1, 4, 8 and 16 split into warp, CLIP, text,
encode, denoising and decode; images per second; on CUDA the fraction of the GPU's bf16 peak
reached in the denoising loop; then the orchestration overhead of a try-on task (ledger, S3
reads and writes, JPEG, paste-back) over the bare pipeline call.

Random weights (no weights can be downloaded here): the timings are the architecture's, the
images are noise.

    .venv/bin/python bench/inference.py                        # CPU: the small configuration
    .venv/bin/python bench/inference.py --size full --device cuda --steps 50   # GPU, bf16
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, bf16_peak, unet_tflops  # noqa: E402  (bench/ is not a package)

sys.path.insert(0, str(REPO))
PHOTOS = {
    "upper_body": ("TEE-03032", "05997_00.jpg"),
    "lower_body": ("JEANS-051946", "051918_0.jpg"),
    "dresses": ("DRESS-052234", "052472_0.jpg"),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "full"), default="small")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32"), help="default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--batches", default="1,4,8,16", help="batch sizes")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--scheduler", default="ddim", choices=("ddim", "dpm-solver++"))
    parser.add_argument("--repeat", type=int, default=1, help="timed calls per batch size (median reported)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak (default: by device name)")
    parser.add_argument("--skip-task", action="store_true", help="skip the orchestration-overhead part")
    return parser.parse_args()


def fixture_samples() -> list:
    """One TryOnSample per category from the sample photos, preprocessed by the pipeline's own code."""
    from tasks.images import decode_rgb
    from tasks.inference.engine import TryOnSample
    from tasks.preprocess.garment import prepare_garment
    from tasks.preprocess.model_photo import prepare_model_photo
    from tasks.settings import Settings

    samples = []
    for index, (category, (sku, photo)) in enumerate(PHOTOS.items()):
        view = prepare_model_photo(decode_rgb((REPO / "samples/library" / photo).read_bytes()), Settings()).views[category]
        garment = prepare_garment(decode_rgb((REPO / "samples/drop" / sku / "front.jpg").read_bytes()))
        samples.append(
            TryOnSample(
                generation_id=f"bench-{index}",
                category=category,
                person=view.image,
                person_mask=view.person_mask,
                inpaint_mask=view.inpaint_mask,
                keypoints=view.keypoints,
                cloth=garment.cloth,
                cloth_mask=garment.mask,
                seed=index,
            )
        )
    return samples


def time_pipeline(args: argparse.Namespace, samples: list) -> None:
    import torch

    from tasks.inference.ladi_vton.components import ARCHITECTURES, random_components
    from tasks.inference.ladi_vton.pipeline_ladi_vton import STAGES
    from tasks.inference.ladi_vton.tensors import resolve_precision, sample_tensors

    device = torch.device(args.device)
    dtype = resolve_precision(args.precision or "auto", device)
    pipe = random_components(ARCHITECTURES[args.size], device=device).pipeline(args.scheduler).to(device, dtype)
    if args.compile:
        pipe.unet = torch.compile(pipe.unet)
    print(
        f"{args.size} configuration, {device} {str(dtype).removeprefix('torch.')}, {args.scheduler} {args.steps} steps, "
        f"guidance {args.guidance}, 512x384, torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )

    def call(batch: int, steps: int) -> dict[str, float]:
        chosen = [samples[i % len(samples)] for i in range(batch)]
        tensors = sample_tensors(chosen)
        start = time.perf_counter()
        out = pipe(
            **tensors,
            categories=[s.category for s in chosen],
            num_inference_steps=steps,
            guidance_scale=args.guidance,
            generators=[torch.Generator().manual_seed(i) for i in range(batch)],
        )
        return {**out.timings, "total": time.perf_counter() - start}

    call(1, 2)  # warm-up: allocator, kernels, compile
    peak = bf16_peak(str(device), args.peak_tflops)
    header = "".join(f"{s:>9}" for s in STAGES)
    print(f"{'batch':>5} {'s/image':>8} {'img/s':>7}{header}   (seconds per image by stage)")
    for batch in [int(b) for b in args.batches.split(",")]:
        runs = [call(batch, args.steps) for _ in range(args.repeat)]
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        line = f"{batch:>5} {median['total'] / batch:>8.3f} {batch / median['total']:>7.2f}"
        line += "".join(f"{median[s] / batch:>9.3f}" for s in STAGES)
        if args.size == "full" and device.type == "cuda":
            achieved = unet_tflops(batch, args.steps, args.guidance, median["denoise"])
            line += f"   denoise {achieved:.0f} TFLOP/s" + (f" = {achieved / peak:.0%} of {peak:.0f} bf16 peak" if peak else "")
        print(line)


def time_task(args: argparse.Namespace) -> None:
    """run_shard (the body of a try-on task) against the bare engine calls, same samples, the
    engine already loaded: the difference is what the task adds around its batches. The weight
    load is left out here; bench/end_to_end.py counts it, in a fresh process per task."""
    from tasks.context import RunContext
    from tasks.embedded_s3 import embedded_s3
    from tasks.inference import tryon_stage
    from tasks.inference.factory import get_engine
    from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
    from tasks.intake import discover, validate
    from tasks.ledger import Ledger
    from tasks.match import match
    from tasks.preprocess import library_stage
    from tasks.preprocess.garment_stage import preprocess_garments
    from tasks.settings import Settings
    from tasks.storage import ObjectStore

    tmp = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    registry = save_published_layout(random_components(SMALL), tmp / "weights", SMALL)
    settings = Settings(
        home=tmp / "home",
        bucket="bench",
        engine="ladi-vton",
        model_registry=registry,
        ledger_url=f"sqlite:///{tmp / 'ledger.db'}",
        inference_steps=args.steps,
        batch_size=16,
        photos_per_garment=4,
        device="cpu",
    )
    with embedded_s3(settings) as endpoint:
        settings = settings.model_copy(update={"s3_endpoint_url": endpoint})
        store = ObjectStore.from_settings(settings)
        ctx = RunContext(settings=settings, store=store, ledger=Ledger(settings.resolved_ledger_url))
        date = "2026-11-20"
        for sku in ("TEE-03032", "CAMI-048769", "TEE-00055"):
            store.put_bytes(f"drops/{date}/{sku}/front.jpg", (REPO / "samples/drop" / sku / "front.jpg").read_bytes())
            store.put_bytes(f"drops/{date}/{sku}/meta.json", (REPO / "samples/drop" / sku / "meta.json").read_bytes())
        for photo in sorted((REPO / "samples/library").iterdir()):
            store.put_bytes(f"library/photos/{photo.name}", photo.read_bytes())
        library_stage.preprocess_model_photos(ctx)
        library_stage.build_index(ctx)
        shards = [shard for shard in match(ctx, date, preprocess_garments(ctx, date, validate(ctx, date, discover(ctx, date))))]
        batch = [gid for shard in shards for gid in shard.generation_ids]
        engine = get_engine(settings)
        inside: list[float] = []
        generate = engine.generate

        def timed_generate(samples: list) -> object:
            start = time.perf_counter()
            try:
                return generate(samples)
            finally:
                inside.append(time.perf_counter() - start)

        engine.generate = timed_generate
        engine.pipeline  # load the weights outside the timed task, as a warm worker has them
        start = time.perf_counter()
        counts = [tryon_stage.run_shard(ctx, shard) for shard in shards]
        task = time.perf_counter() - start
        overhead = task - sum(inside)
        print(
            f"try-on task of {len(batch)} generations (small configuration, {args.steps} steps, CPU, warm engine): "
            f"task {task:.2f} s, engine call {sum(inside):.2f} s ({counts})\n"
            f"orchestration overhead (ledger, S3 reads/writes, JPEG, sidecars) {overhead:.2f} s = "
            f"{overhead / len(batch) * 1000:.0f} ms per image, {overhead / task:.1%} of the task"
        )


def main() -> int:
    args = parse_args()
    samples = fixture_samples()
    time_pipeline(args, samples)
    if not args.skip_task:
        time_task(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
