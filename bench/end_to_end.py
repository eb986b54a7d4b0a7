"""Try-on the way a worker runs it: every task a fresh process (Airflow 3 runs each task instance
in a process of its own), so every task imports torch, builds the engine and loads the weights
before it generates. Over the same 64 generations of the small LaDI-VTON configuration on CPU:

- per batch: one task per ``--batch-size`` generations (the mapped try-on tasks before shards);
- one shard: all of them in one task, as garment_drop's try-on tasks now run (``run_shard``: the
  weights loaded once, the next batch read while the engine works, writes behind it).

Both call the engine with ``--batch-size`` samples at a time, so the difference is only what a
task costs around its engine calls.

For each it prints the engine-call seconds (generating, the load left out), the load seconds, the
seconds the engine waited for inputs and writes, the task wall seconds (process start to exit),
the engine's share of the wall time, the seconds per image, and the denoising loop's seconds
(from the generations' sidecars) as a share of the wall: end-to-end throughput against
denoise-only throughput. With ``--size full --device cuda`` also the UNet's TFLOP/s in the
denoising loop and its fraction of the GPU's bf16 peak. Bars (issue 13): on CPU the engine call
>= 90 % of the wall of a 64-generation shard; on a GPU >= 40 % of bf16 peak in the denoising loop
and end-to-end throughput >= 85 % of denoise-only throughput.

    .venv/bin/python bench/end_to_end.py [--steps 10] [--batch-size 8] [--threads 2]
    .venv/bin/python bench/end_to_end.py --size full --device cuda --steps 50 --batch-size 16

Random weights in the published layout (no weights can be downloaded here): the timings are the
architecture's, the images are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, bf16_peak, limit_threads, unet_tflops

DATE = "2026-11-20"
GENERATIONS = 64
TASK = """
import dataclasses, json, sys
from tasks.context import RunContext
from tasks.inference.shard import Shard
from tasks.inference.tryon_stage import run_shard
from tasks.settings import Settings
shard = Shard(**json.loads(sys.stdin.read()))
print(json.dumps(dataclasses.asdict(run_shard(RunContext.from_settings(Settings()), shard))))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="denoising steps (DDIM)")
    parser.add_argument("--batch-size", type=int, default=8, help="generations per task in the per-batch design")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of each task process")
    parser.add_argument("--size", choices=("small", "full"), default="small", help="LaDI-VTON configuration (random weights)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    parser.add_argument("--precision", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), bf16, fp16, fp32")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak (default: by device name)")
    args = parser.parse_args()
    limit_threads(args.threads)
    return args


def plan(settings: object, tmp: Path) -> list[str]:
    """The sample drop and library in the bucket, matched three times (three seeds) to plan
    more generations than the samples make once; the first 64 ids."""
    from tasks.context import RunContext
    from tasks.intake import discover, validate
    from tasks.match import match
    from tasks.preprocess import library_stage
    from tasks.preprocess.garment_stage import preprocess_garments

    ctx = RunContext.from_settings(settings)
    ctx.store.ensure_bucket()
    for folder in sorted((REPO / "samples" / "drop").iterdir()):
        for path in folder.iterdir():
            ctx.store.put_bytes(f"drops/{DATE}/{folder.name}/{path.name}", path.read_bytes())
    for photo in sorted((REPO / "samples" / "library").iterdir()):
        if photo.suffix in (".jpg", ".png"):
            ctx.store.put_bytes(f"library/photos/{photo.name}", photo.read_bytes())
    library_stage.preprocess_model_photos(ctx)
    library_stage.build_index(ctx)
    items = preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE)))
    ids: dict[str, None] = {}  # match returns every planned generation of the date, earlier seeds' too
    for seed in range(4):
        seeded = RunContext.from_settings(settings.model_copy(update={"seed": seed}))
        ids.update(dict.fromkeys(gid for shard in match(seeded, DATE, items) for gid in shard.generation_ids))
    if len(ids) < GENERATIONS:
        raise SystemExit(f"only {len(ids)} generations planned; the bench needs {GENERATIONS}")
    return list(ids)[:GENERATIONS]


def reset(settings: object, ids: list[str]) -> None:
    """Back to planned with no stored objects, so the next design generates all of them again."""
    from tasks.context import RunContext
    from tasks.ledger import Generation, GenerationState

    ctx = RunContext.from_settings(settings)
    for key in list(ctx.store.list_keys("generations/")):
        ctx.store.delete(key)
    with ctx.ledger.session() as session:
        for gid in ids:
            row = session.get(Generation, gid)
            row.state, row.reason, row.object_key = GenerationState.PLANNED.value, None, None


def denoise_seconds(settings: object) -> float:
    """The denoising loop's seconds over every stored generation (each sidecar has its share of
    its pipeline call)."""
    from tasks.storage import ObjectStore

    store = ObjectStore.from_settings(settings)
    return sum(
        store.get_json(key)["detail"]["seconds_per_sample"]["denoise"]
        for key in store.list_keys("generations/")
        if key.endswith(".json")
    )


def run_tasks(tasks: list[list[list[str]]], env: dict[str, str]) -> dict[str, float]:
    """Each task (a shard's batches) in a fresh process; the engine's figures summed."""
    totals = {"tasks": len(tasks), "engine": 0.0, "load": 0.0, "loads": 0, "wall": 0.0, "generated": 0, "waited": 0.0}
    for index, batches in enumerate(tasks):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", TASK],
            input=json.dumps({"index": index, "batches": batches}),
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            check=False,
        )
        totals["wall"] += time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"a task failed:\n{done.stderr[-3000:]}")
        counts = json.loads(done.stdout.strip().splitlines()[-1])
        totals["engine"] += counts["engine_seconds"]
        totals["load"] += counts["load_seconds"]
        totals["loads"] += counts["engine_loads"]
        totals["generated"] += counts["generated"]
        totals["waited"] += counts["input_wait_seconds"] + counts["write_wait_seconds"]
    return totals


def main() -> int:
    args = parse_args()
    from tasks.embedded_s3 import embedded_s3
    from tasks.inference.ladi_vton.components import ARCHITECTURES, random_components, save_published_layout
    from tasks.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-end-to-end-"))
    architecture = ARCHITECTURES[args.size]
    registry = save_published_layout(random_components(architecture), tmp / "weights", architecture)
    settings = Settings(
        home=tmp / "home",
        bucket="bench",
        engine="ladi-vton",
        model_registry=registry,
        device=args.device,
        precision=args.precision,
        ledger_url=f"sqlite:///{tmp / 'ledger.db'}",
        inference_steps=args.steps,
        photos_per_garment=6,
        batch_size=args.batch_size,
    )
    peak = bf16_peak(args.device, args.peak_tflops)
    with embedded_s3(settings) as endpoint:
        settings = settings.model_copy(update={"s3_endpoint_url": endpoint})
        ids = plan(settings, tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRYON_")}
        env.update(
            {
                "TRYON_HOME": str(settings.home),
                "TRYON_BUCKET": settings.bucket,
                "TRYON_S3_ENDPOINT_URL": endpoint,
                "TRYON_LEDGER_URL": settings.resolved_ledger_url,
                "TRYON_ENGINE": "ladi-vton",
                "TRYON_DEVICE": args.device,
                "TRYON_PRECISION": args.precision,
                "TRYON_MODEL_REGISTRY": str(registry),
                "TRYON_INFERENCE_STEPS": str(args.steps),
                "TRYON_BATCH_SIZE": str(args.batch_size),
                "TRYON_PHOTOS_PER_GARMENT": "6",
                "PYTHONPATH": str(REPO),
                "OMP_NUM_THREADS": str(args.threads),
            }
        )
        print(
            f"{GENERATIONS} generations, {args.size} LaDI-VTON configuration, {args.steps} DDIM steps, guidance "
            f"{settings.guidance_scale}, {args.device} ({args.precision} precision), {args.threads} CPU threads per task, "
            f"each task a fresh process\n"
        )
        print(
            f"{'design':<22} {'tasks':>5} {'loads':>5} {'load s':>7} {'engine s':>9} {'waited s':>8} {'wall s':>8} "
            f"{'engine/wall':>11} {'s/image':>8} {'denoise/wall':>12}"
        )
        batches = [ids[i : i + args.batch_size] for i in range(0, len(ids), args.batch_size)]
        designs = {f"per batch of {args.batch_size}": [[batch] for batch in batches], "one shard": [batches]}
        for index, (name, tasks) in enumerate(designs.items()):
            if index:
                reset(settings, ids)
            t = run_tasks(tasks, env)
            assert t["generated"] == GENERATIONS, t
            denoise = denoise_seconds(settings)
            line = (
                f"{name:<22} {t['tasks']:>5} {t['loads']:>5} {t['load']:>7.1f} {t['engine']:>9.1f} {t['waited']:>8.1f} "
                f"{t['wall']:>8.1f} {t['engine'] / t['wall']:>11.1%} {t['wall'] / GENERATIONS:>8.2f} "
                f"{denoise / t['wall']:>12.1%}"
            )
            if args.size == "full" and args.device.startswith("cuda"):
                achieved = unet_tflops(GENERATIONS, args.steps, settings.guidance_scale, denoise)
                line += f"   denoise {achieved:.0f} TFLOP/s"
                line += f" = {achieved / peak:.0%} of {peak:.0f} bf16 peak" if peak else ""
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
