"""The night across workers: one null-engine drop run by garment_drop under Airflow's
CeleryExecutor (scheduler, api-server, dag-processor, triggerer and Celery workers on this
machine, PostgreSQL for the metadata database and the ledger, Redis as the broker, the embedded
S3 API), first with one worker and then with two (each one process and one thread: ``--concurrency
1``, listening on every queue), on the same inputs.

Printed: wall seconds per stage (first task's start to last task's end) for both runs, the whole
run's wall, the speed-up, and the serial share of the one-worker run: the time outside the mapped
stages (the gathering steps, scheduling, fixed costs) over the run's wall. Then an Amdahl
projection of a 10,000-garment night (two photos each: 20,000 generations): the unmapped stages'
work grows with the night (scheduling and start-up do not), the mapped CPU stages' work grows and
is divided among the CPU workers, and the try-on engine's among the GPUs. The engine here is ``null`` (the photo returned unchanged), so the
pipeline alone is measured; the engine's own GPU time is added from ``--engine-s-per-image`` and
marked an estimate unless it was measured.

Bars (issue 35): speed-up >= 1.7 with two workers, serial share <= 10 % at the benchmark's size.

    .venv/bin/python bench/scale_out.py [--garments 300] [--library 24] [--chunk 50] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drop_scale import REPO, synthetic_garments, synthetic_library

sys.path.insert(0, str(REPO))
from tests.cluster import Cluster, celery_env, free_port  # noqa: E402

REDIS_DB = 12
SPEED_UP_BAR, SERIAL_BAR = 1.7, 0.10
NIGHT_GARMENTS = 10_000
MAPPED_CPU = ("validate", "preprocess_garments", "measure")  # divided among CPU workers
MAPPED_GPU = ("tryon",)  # divided among the try-on pool's slots
# LaDI-VTON at the published size, one image: 50 DDIM steps x 2 (guidance) x 510 GFLOP (bench/inference.py)
ENGINE_TFLOP_PER_IMAGE = 50 * 2 * 0.510


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--garments", type=int, default=300, help="garments in the drop (two generations each)")
    parser.add_argument("--library", type=int, default=24, help="model photos in the library")
    parser.add_argument("--chunk", type=int, default=50, help="TRYON_CHUNK_SIZE: garments or images per CPU task")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Celery workers of each run")
    parser.add_argument(
        "--engine-s-per-image",
        type=float,
        help="measured GPU seconds per LaDI-VTON image (default: an estimate, 40 %% of an H100's dense bf16 peak)",
    )
    parser.add_argument("--out", type=Path, help="keep the working folders here (default: a temporary folder)")
    parser.add_argument("--figures", type=Path, help="print the figures of an earlier run (its DIR/scale_out.json) again")
    return parser.parse_args()


class Postgres:
    """Databases on the machine's PostgreSQL, made from each other as templates, dropped at the end."""

    def __init__(self) -> None:
        import psycopg2

        self.admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        self.admin.autocommit = True
        self.made: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"tryon_scale_{uuid.uuid4().hex[:10]}"
        self.admin.cursor().execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return name

    @staticmethod
    def url(name: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"

    def close(self) -> None:
        for name in self.made:
            self.admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


def serve_s3(root: Path) -> str:
    """The embedded S3 API over ``root`` (its folders are buckets), on a thread; its URL."""
    import logging

    from werkzeug.serving import make_server

    from tasks.embedded_s3 import FolderS3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = make_server("127.0.0.1", 0, FolderS3(root), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def tryon(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "tasks.cli", *args], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tryon {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def prepare(work: Path, s3_root: Path, endpoint: str, db: Postgres, args: argparse.Namespace, date: str) -> tuple[str, str]:
    """The inputs every run copies: a bucket with the drop and a built library, the ledger that
    built it, and a migrated Airflow metadata database. Returns (ledger, metadata) template names."""
    bucket = s3_root / "template"
    for name, data in synthetic_library(args.library):
        (bucket / "library" / "photos").mkdir(parents=True, exist_ok=True)
        (bucket / "library" / "photos" / name).write_bytes(data)
    ledger = db.create()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TRYON_", "AIRFLOW"))},
        "TRYON_HOME": str(work / "home"),
        "TRYON_BUCKET": "template",
        "TRYON_S3_ENDPOINT_URL": endpoint,
        "TRYON_LEDGER_URL": db.url(ledger),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    started = time.perf_counter()
    tryon(env, "library", "build")
    print(f"library of {args.library} photos built in {time.perf_counter() - started:.0f} s", flush=True)
    folder = bucket / "drops" / date
    for sku, category, data in synthetic_garments(args.garments):
        (folder / sku).mkdir(parents=True, exist_ok=True)
        (folder / sku / "front.jpg").write_bytes(data)
        (folder / sku / "meta.json").write_text(json.dumps({"category": category}))
    (folder / "_READY").write_text(json.dumps({"skus": args.garments}))
    metadata = db.create()
    airflow_env = celery_env(work / "airflow-template", db.url(metadata), 0, REDIS_DB)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=airflow_env, check=True, capture_output=True)
    return ledger, metadata


def run_night(
    workers: int, work: Path, s3_root: Path, endpoint: str, db: Postgres, templates: tuple[str, str], args, date: str
) -> dict:
    """One run of the drop on a fresh copy of the inputs under ``workers`` Celery workers."""
    import psycopg2

    from tasks.context import RunContext
    from tasks.settings import Settings
    from tasks.stage_times import stage_records, stage_times

    bucket = f"scale-{workers}"
    shutil.rmtree(s3_root / bucket, ignore_errors=True)
    shutil.copytree(s3_root / "template", s3_root / bucket)
    ledger, metadata = db.create(templates[0]), db.create(templates[1])
    port, logs = free_port(), work / f"logs-{workers}"
    logs.mkdir(parents=True, exist_ok=True)
    env = celery_env(
        work / f"airflow-{workers}",
        db.url(metadata),
        port,
        REDIS_DB,
        TRYON_HOME=str(work / "home"),
        TRYON_BUCKET=bucket,
        TRYON_S3_ENDPOINT_URL=endpoint,
        TRYON_LEDGER_URL=db.url(ledger),
        TRYON_ENGINE="null",
        TRYON_CHUNK_SIZE=str(args.chunk),
        TRYON_GPU_POOL_SLOTS=str(workers),
        TRYON_SHARD_MIN_GENERATIONS="1",
        TRYON_TASK_RETRIES="0",
        TRYON_DROP_POKE_S="1",
        # each worker one process and one thread: OpenCV's, BLAS's and ONNX Runtime's (rembg reads
        # OMP_NUM_THREADS) pools, and QC's measuring threads
        OMP_NUM_THREADS="1",
        OPENCV_FOR_THREADS_NUM="1",
        TRYON_CPU_THREADS="1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    cluster = Cluster(env, logs)
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False, capture_output=True)
    state, row = None, None
    try:
        cluster.airflow("pools", "set", "gpu", str(workers), "try-on slots")
        cluster.airflow("pools", "set", "cpu", str(workers), "CPU stage slots")
        cluster.start_services(port)
        for number in range(workers):
            cluster.start(
                f"worker-{number}",
                *("celery", "worker", "--queues", "default,cpu,gpu", "--concurrency", "1"),
                *("--celery-hostname", f"w{number}@%h"),
                TRYON_WORKER_NAME=f"worker-{number}",
            )
        cluster.wait_for_dag("garment_drop")
        cluster.airflow("dags", "unpause", "garment_drop")  # catch-up off: one run, for yesterday's drop
        deadline = time.time() + 3600
        with psycopg2.connect(db.url(metadata).replace("postgresql+psycopg2", "postgresql")) as conn:
            conn.autocommit = True
            while state not in ("success", "failed"):
                if time.time() > deadline:
                    raise SystemExit(f"the run with {workers} worker(s) did not finish in an hour (logs in {logs})")
                time.sleep(2)
                with conn.cursor() as cur:
                    cur.execute(
                        "select state, start_date, end_date from dag_run where dag_id = 'garment_drop' "
                        "and logical_date::date = %s",
                        (date,),
                    )
                    row = cur.fetchone()
                    state = row[0] if row else None
    finally:
        cluster.stop()
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False, capture_output=True)
    if state != "success":
        raise SystemExit(f"the run with {workers} worker(s) ended {state} (logs in {logs})")
    ctx = RunContext.from_settings(Settings(bucket=bucket, s3_endpoint_url=endpoint, ledger_url=db.url(ledger)))
    times = stage_times(stage_records(ctx, date))
    return {
        "workers": workers,
        "wall_s": (row[2] - row[1]).total_seconds(),
        "generations": len(ctx.ledger.generations(date)),
        "garments": len(ctx.ledger.garments(date)),
        "stages": {t.stage: {"wall_s": t.wall_seconds, "work_s": t.seconds, "tasks": t.tasks} for t in times},
        "order": [t.stage for t in times],
    }


def serial_seconds(run: dict) -> float:
    """The run's wall outside its mapped stages' spans: gathering steps, scheduling, fixed costs."""
    return run["wall_s"] - sum(run["stages"][s]["wall_s"] for s in (*MAPPED_CPU, *MAPPED_GPU) if s in run["stages"])


def serial_work(run: dict) -> float:
    """The seconds the unmapped stages' tasks worked: the part of the serial time that grows with
    the night (the rest, scheduling and task start-up, is fixed)."""
    return sum(v["work_s"] for s, v in run["stages"].items() if s not in (*MAPPED_CPU, *MAPPED_GPU))


def project(one: dict, cpu_workers: int, gpus: int, engine_s: float) -> float:
    """Minutes of a 10,000-garment night (Amdahl): of the one-worker run's serial time, the
    unmapped stages' work grown with the night and the rest (scheduling, start-up) as it was; its
    mapped CPU stages' spans grown and divided among ``cpu_workers``; the try-on spans (the null
    engine's reading and writing) plus ``engine_s`` per image grown and divided among ``gpus``."""
    grow = NIGHT_GARMENTS * 2 / one["generations"]
    fixed = serial_seconds(one) - serial_work(one)
    cpu = sum(one["stages"][s]["wall_s"] for s in MAPPED_CPU if s in one["stages"])
    gpu = sum(one["stages"][s]["wall_s"] for s in MAPPED_GPU if s in one["stages"]) + engine_s * one["generations"]
    return (fixed + serial_work(one) * grow + cpu * grow / cpu_workers + gpu * grow / gpus) / 60


def main() -> int:
    args = parse_args()
    if args.figures:
        runs = json.loads(args.figures.read_text())
        print_figures(runs, args)
        return 0 if bars_hold(runs) else 1
    # stopped, stop the cluster too (its processes are in groups of their own and would go on
    # taking tasks from the broker)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the embedded S3 API asks for none, boto3 for some
        os.environ.setdefault(key, "bench")
    work = args.out or Path(tempfile.mkdtemp(prefix="scale-out-"))
    s3_root = work / "s3"
    endpoint = serve_s3(s3_root)
    date = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()  # the run unpausing creates
    db = Postgres()
    try:
        templates = prepare(work, s3_root, endpoint, db, args, date)
        runs = []
        for workers in args.workers:
            print(f"the drop of {args.garments} garments with {workers} worker(s) ...", flush=True)
            runs.append(run_night(workers, work, s3_root, endpoint, db, templates, args, date))
            print(f"  {runs[-1]['wall_s']:.0f} s, {runs[-1]['generations']} generations", flush=True)
    finally:
        db.close()
    print_figures(runs, args)
    (work / "scale_out.json").write_text(json.dumps([{**run, "chunk": args.chunk} for run in runs], indent=2))
    return 0 if bars_hold(runs) else 1


def bars_hold(runs: list[dict]) -> bool:
    one, many = runs[0], runs[-1]
    return one["wall_s"] / many["wall_s"] >= SPEED_UP_BAR and serial_seconds(one) / one["wall_s"] <= SERIAL_BAR


def print_figures(runs: list[dict], args: argparse.Namespace) -> None:
    one, many = runs[0], runs[-1]
    print(
        f"\n{one['garments']} garments, {one['generations']} generations (null engine), chunks of {one.get('chunk', args.chunk)}; "
        "wall seconds per stage (tasks)\n"
    )
    print(f"{'stage':<22}" + "".join(f"{str(r['workers']) + ' worker(s)':>20}" for r in runs))
    for stage in one["order"]:
        cells = "".join(
            f"{r['stages'].get(stage, {}).get('wall_s', 0):>14.1f} ({r['stages'].get(stage, {}).get('tasks', 0):>3})"
            for r in runs
        )
        print(f"{stage:<22}{cells}")
    print(f"{'the run':<22}" + "".join(f"{r['wall_s']:>20.1f}" for r in runs))
    print(f"{'serial (outside mapped)':<22}" + "".join(f"{serial_seconds(r):>20.1f}" for r in runs))
    print(f"{'  of it stages working':<22}" + "".join(f"{serial_work(r):>20.1f}" for r in runs))
    speed_up = one["wall_s"] / many["wall_s"]
    share = serial_seconds(one) / one["wall_s"]
    p = many["workers"] / one["workers"]
    karp_flatt = (1 / speed_up - 1 / p) / (1 - 1 / p) if p > 1 else float("nan")
    print(
        f"\nspeed-up with {many['workers']} workers: {speed_up:.2f} (bar >= {SPEED_UP_BAR}); serial share "
        f"{share:.1%} of the one-worker run (bar <= {SERIAL_BAR:.0%}); from the two walls (Karp-Flatt): {karp_flatt:.1%}"
    )
    if args.engine_s_per_image is not None:
        engine_s = args.engine_s_per_image
        source = f"{engine_s:.2f} s per image, measured"
    else:
        engine_s = ENGINE_TFLOP_PER_IMAGE / (0.4 * 989)
        source = (
            f"{engine_s:.2f} s per image, an ESTIMATE: {ENGINE_TFLOP_PER_IMAGE:.0f} TFLOP per image (50 steps, guidance) "
            "at 40 % of an H100's 989 TFLOP/s dense bf16; no GPU measured it"
        )
    print(f"\nprojected 10,000-garment night (20,000 generations), minutes; the LaDI-VTON engine at {source}")
    print(f"{'CPU workers':<14}" + "".join(f"{f'{g} GPU(s)':>12}" for g in (1, 4)))
    for cpu_workers in (1, 4, 16, 64):
        print(f"{cpu_workers:<14}" + "".join(f"{project(one, cpu_workers, gpus, engine_s):>12.0f}" for gpus in (1, 4)))


if __name__ == "__main__":
    sys.exit(main())
