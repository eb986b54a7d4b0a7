"""The pipeline at scale: synthetic drops of 100, 1,000 and 10,000 garments against a library of 100
photos, run through ``garment_drop`` (Airflow's ``dag.test``, the embedded default) with the
``null`` engine, which returns each photo unchanged: what is measured is the pipeline alone,
never anything publishable.

The garments are made from the sample drop's seven good garments: mirrored or not, tinted, with a
print of stripes drawn on them (random angle, pitch and colour), each a new SKU, so that each is a
garment of its own to the duplicate check. The library's photos are the sample photos mirrored,
cropped and with their exposure shifted. The library is built once (and rebuilt once with nothing
changed, timed); each drop size then runs in a fresh process on a copy of it, twice: the night,
and a re-run that has nothing to do.

Printed per size: wall seconds per stage and per generation, peak RSS, S3 requests and ledger
statements per generation, the re-run's wall time, and the growth exponent of each per-item
cost between consecutive sizes (1.0: linear). Bars (issue 16): the 10,000-garment night
(20,000 generations) under 60 min, peak RSS under 4 GB, every exponent <= 1.05, a re-run with
nothing to do under 3 min.

    .venv/bin/python bench/drop_scale.py [--sizes 100 1000 10000] [--library 100] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
DATE = "2026-11-20"
GOOD = ("CAMI-048769", "DRESS-052234", "DRESS-053744", "JEANS-051946", "TEE-00055", "TEE-03032", "TROUSER-051473")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000], help="garments per drop")
    parser.add_argument("--library", type=int, default=100, help="model photos in the library")
    parser.add_argument("--out", type=Path, help="keep the working folders here (default: a temporary folder)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run one size in this process (internal)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


# --- synthetic inputs ------------------------------------------------------------------------


@cache
def grid(shape: tuple[int, int]):
    import numpy as np

    return np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)


class KnownCut:
    """A garment masker that returns the mask the garment was made with (for fingerprinting a
    synthetic garment as the pipeline's canvas would show it, without cutting it again)."""

    backend = "known"

    def __init__(self, mask) -> None:
        self.mask = mask

    def __call__(self, image):
        from tasks.preprocess.garment_mask import GarmentCut

        return GarmentCut(mask=self.mask, method="known")


def _garment(rng, image, garment):
    """One new garment from a product photo and its mask: mirrored or not, its hem and a side
    cut, two tints (one dark, one light) split by a random line, stripes on one of them, and a
    print of a few large dark or light patches (the scale the fingerprint sees). Returns the
    photo and the garment's mask."""
    import cv2
    import numpy as np

    image, garment = (image[:, ::-1], garment[:, ::-1]) if rng.random() < 0.5 else (image, garment)
    yy, xx = grid(garment.shape)
    rows, cols = np.flatnonzero(garment.any(axis=1)), np.flatnonzero(garment.any(axis=0))
    hem = rows[0] + (1 - rng.uniform(0, 0.45)) * (rows[-1] - rows[0])
    cut = cols[0] + rng.uniform(0, 0.3) * (cols[-1] - cols[0]) if rng.random() < 0.5 else -1
    kept = (yy <= hem) & (xx >= cut)
    image = np.where((garment & ~kept)[..., None], np.uint8(255), image)
    garment = garment & kept
    angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(-0.3, 0.3) * garment.shape[0]
    side = (xx - garment.shape[1] / 2) * np.cos(angle) + (yy - garment.shape[0] / 2) * np.sin(angle) > offset
    hue = rng.uniform(0.3, 1.0, 3)
    tints = np.array([hue * rng.uniform(0.15, 0.45), hue * rng.uniform(0.8, 1.0)])[rng.permutation(2)]
    made = (image.astype(np.float32) * np.where(garment[..., None], np.where(side[..., None], tints[0], tints[1]), 1.0)).astype(
        np.uint8
    )
    angle, pitch = rng.uniform(0, np.pi), rng.uniform(18, 60)
    stripes = (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / pitch) > 0.6) & garment & side
    made[stripes] = rng.integers(20, 230, 3)
    patches = np.zeros(garment.shape, np.uint8)
    for _ in range(4):
        centre = (int(rng.uniform(cols[0], cols[-1])), int(rng.uniform(rows[0], hem)))
        axes = (int(rng.uniform(0.1, 0.3) * (cols[-1] - cols[0])), int(rng.uniform(0.05, 0.2) * (rows[-1] - rows[0])))
        cv2.ellipse(patches, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(1, 3)), -1)
    made[(patches == 1) & garment] = rng.integers(0, 60, 3)
    made[(patches == 2) & garment] = rng.integers(170, 220, 3)  # light, but not as light as a white backdrop
    return np.ascontiguousarray(made), np.ascontiguousarray(garment)


@cache
def _sources() -> list:
    """(sku, category, photo, mask) of the sample drop's good garments (once per process)."""
    from tasks.images import decode_rgb
    from tasks.preprocess.garment_mask import border_cut

    sources = []
    for sku in GOOD:
        image = decode_rgb((SAMPLES / "drop" / sku / "front.jpg").read_bytes())
        category = json.loads((SAMPLES / "drop" / sku / "meta.json").read_text())["category"]
        sources.append((sku, category, image, border_cut(image).mask))
    return sources


def _candidate(job: tuple[int, int]) -> tuple[str, str, str | None, bytes]:
    """Candidate ``index`` of the drop drawn with ``seed``: (source SKU, category, fingerprint on
    the pipeline's canvas, JPEG bytes); no fingerprint for a candidate intake would refuse as a
    doubtful cut-out (a tint that brings the garment too near its backdrop), which is passed
    over. Its own random stream, so candidates are made in any order and on any process and are
    the same."""
    import numpy as np

    from tasks.images import encode_jpeg
    from tasks.preprocess.garment import GarmentMaskDoubtful, perceptual_hash, prepare_garment

    seed, index = job
    sku, category, image, garment = _sources()[index % len(GOOD)]
    photo, mask = _garment(np.random.default_rng([seed, index]), image, garment)
    try:
        canvas = prepare_garment(photo, KnownCut(mask))
    except GarmentMaskDoubtful:
        return sku, category, None, b""
    return sku, category, perceptual_hash(canvas.cloth, canvas.mask), encode_jpeg(photo, 90)


def synthetic_garments(count: int, seed: int = 0, jobs: int | None = None):
    """(sku, category, jpeg bytes) of ``count`` garments made from the sample drop, each a garment
    of its own to the duplicate check: a candidate whose fingerprint (the pipeline's, on its
    canvas) comes within 12 bits and 20 Lab units of one already made is passed over. That margin
    is wider than the check's (8 bits, 12 units), so the pipeline's own cut, a little different
    from the mask the garment was made with, mostly still tells them apart (3 % of 1,400 were
    duplicates to the classical cut); the figures count the generations actually made.
    Candidates are drawn on ``jobs`` processes (the machine's cores) and judged in order."""
    from concurrent.futures import ProcessPoolExecutor

    from tasks.preprocess.fingerprints import FingerprintIndex, Owner

    made = FingerprintIndex(max_bits=12, max_colour=20.0)
    number = drawn = 0
    with ProcessPoolExecutor(jobs or os.cpu_count()) as pool:
        while number < count:
            block = range(drawn, drawn + min(500, int((count - number) * 1.2) + 8))
            drawn = block.stop
            for sku, category, fingerprint, data in pool.map(_candidate, [(seed, index) for index in block], chunksize=4):
                if number >= count or fingerprint is None or made.find(fingerprint) is not None:
                    continue
                made.add(fingerprint, Owner(sku, ""))
                yield f"{sku.split('-')[0]}-S{number:06d}", category, data
                number += 1


def synthetic_library(count: int, seed: int = 1):
    """(name, jpeg bytes) of ``count`` distinct model photos made from the sample photos."""
    import cv2
    import numpy as np

    from tasks.images import decode_rgb, encode_jpeg

    rng = np.random.default_rng(seed)
    photos = [decode_rgb(p.read_bytes()) for p in sorted((SAMPLES / "library").iterdir())]
    for number in range(count):
        image = photos[number % len(photos)]
        if number // len(photos) % 2:
            image = image[:, ::-1]
        height, width = image.shape[:2]
        cut = int(rng.integers(0, max(1, width // 20)))
        image = cv2.convertScaleAbs(
            np.ascontiguousarray(image[:, cut : width - cut]), alpha=float(rng.uniform(0.9, 1.1)), beta=float(rng.uniform(-8, 8))
        )
        yield f"lib-{number:04d}.jpg", encode_jpeg(image, 92)


def write_drop(bucket: Path, count: int) -> None:
    folder = bucket / "drops" / DATE
    for sku, category, data in synthetic_garments(count):
        (folder / sku).mkdir(parents=True, exist_ok=True)
        (folder / sku / "front.jpg").write_bytes(data)
        (folder / sku / "meta.json").write_text(json.dumps({"category": category}))
    (folder / "_READY").write_text(json.dumps({"skus": count}))  # the catalogue team's marker: the drop is complete


# --- one size, in a process of its own ----------------------------------------------------------


class Counting:
    """WSGI middleware counting the S3 requests by method."""

    def __init__(self, app) -> None:
        self.app, self.counts = app, Counter()

    def __call__(self, environ, start_response):
        self.counts[environ["REQUEST_METHOD"]] += 1
        return self.app(environ, start_response)


def run_one(size: int, home: Path) -> dict:
    """Run the drop in ``home`` (a library already built there), then again; return the figures."""
    import threading

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from werkzeug.serving import make_server

    os.environ.update({"TRYON_HOME": str(home), "TRYON_ENGINE": "null"})
    from tasks.airflow_glue.runner import configure_airflow, migrate, run_dag
    from tasks.context import RunContext
    from tasks.embedded_s3 import FolderS3
    from tasks.settings import get_settings
    from tasks.stage_times import stage_records

    settings = get_settings()
    configure_airflow(settings)
    statements = Counter()
    event.listen(Engine, "before_cursor_execute", lambda *args: statements.update(["sql"]))
    app = Counting(FolderS3(home / "s3"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["TRYON_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    settings = get_settings()
    figures: dict = {"size": size}
    started = time.perf_counter()
    migrate()
    state = run_dag("garment_drop", DATE)
    figures["wall_s"] = time.perf_counter() - started
    figures["state"] = state
    figures["s3_requests"] = sum(app.counts.values())
    figures["ledger_statements"] = statements["sql"]
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ctx = RunContext.from_settings(settings)
    figures["stages"] = seconds_per_stage(stage_records(ctx, DATE))
    generations = ctx.ledger.generations(DATE)
    figures["generations"] = len(generations)
    figures["generation_states"] = dict(Counter(g.state for g in generations))
    figures["garment_states"] = dict(Counter(g.state for g in ctx.ledger.garments(DATE)))
    started = time.perf_counter()
    figures["rerun_state"] = run_dag("garment_drop", DATE)
    figures["rerun_s"] = time.perf_counter() - started
    figures["rerun_stages"] = seconds_per_stage(stage_records(ctx, DATE))
    figures["rerun_s3_requests"] = sum(app.counts.values()) - figures["s3_requests"]
    server.shutdown()
    figures["report_first_paint_ms"] = first_paint(home / "s3" / settings.bucket / "reports" / DATE / "report.html")
    return figures


def seconds_per_stage(records: list) -> dict[str, float]:
    """Seconds per stage of a run's task records (a mapped stage's tasks summed)."""
    seconds: dict[str, float] = {}
    for record in records:
        seconds[record.stage] = seconds.get(record.stage, 0.0) + (record.seconds or 0.0)
    return seconds


def first_paint(report: Path) -> float | None:
    """Milliseconds from navigation to the first contentful paint of the report in headless
    Chromium (the embedded store's files open as they are); None without Chromium."""
    from playwright.sync_api import sync_playwright

    if not shutil.which("chromium"):
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0", timeout=60_000)
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
        browser.close()
    return paint


# --- the whole benchmark --------------------------------------------------------------------------


def build_library(home: Path, count: int) -> dict:
    bucket = home / "s3" / "tryon" / "library" / "photos"
    bucket.mkdir(parents=True)
    for name, data in synthetic_library(count):
        (bucket / name).write_bytes(data)
    env = {**os.environ, "TRYON_HOME": str(home)}
    times = {}
    for label in ("library_build_s", "library_rebuild_s"):
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "tryon"), "library", "build"], env=env, cwd=REPO, capture_output=True, text=True
        )
        times[label] = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"library build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    times["library_summary"] = next((line for line in done.stdout.splitlines() if line.startswith("library:")), "")
    return times


def exponent(small: dict, large: dict, key: str) -> float:
    """How a per-generation cost grows: log(total ratio) / log(size ratio)."""
    a, b = small.get(key) or 0.0, large.get(key) or 0.0
    if a <= 0 or b <= 0:
        return float("nan")
    return math.log(b / a) / math.log(large["generations"] / small["generations"])


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(REPO))
    if args.one:
        print("FIGURES " + json.dumps(run_one(args.one, args.home)))
        return
    work = args.out or Path(tempfile.mkdtemp(prefix="drop-scale-"))
    template = work / "library-home"
    if not (template / "s3").exists():
        print(f"building a library of {args.library} photos in {template} ...", flush=True)
        library = build_library(template, args.library)
        print(
            f"  build {library['library_build_s']:.0f} s, rebuild with nothing changed {library['library_rebuild_s']:.0f} s "
            f"({library['library_rebuild_s'] / library['library_build_s']:.0%} of the build)\n  {library['library_summary']}",
            flush=True,
        )
    results = []
    for size in args.sizes:
        home = work / f"drop-{size}"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(template, home)
        write_drop(home / "s3" / "tryon", size)
        print(f"drop of {size} garments ...", flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--home", str(home)], cwd=REPO, capture_output=True, text=True
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("FIGURES ")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"the drop of {size} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        figures = json.loads(lines[-1][len("FIGURES ") :])
        results.append(figures)
        report(figures)
    print_table(results)


def report(f: dict) -> None:
    n = max(f["generations"], 1)
    print(f"  {f['state']}: {f['generations']} generations {f['generation_states']} from garments {f['garment_states']}")
    print(
        f"  wall {f['wall_s']:.0f} s ({1000 * f['wall_s'] / n:.0f} ms per generation), peak RSS {f['peak_rss_mb']:.0f} MB, "
        f"{f['s3_requests'] / n:.1f} S3 requests and {f['ledger_statements'] / n:.1f} ledger statements per generation; "
        f"re-run with nothing to do: {f['rerun_s']:.0f} s ({f['rerun_state']}); report first paint {f['report_first_paint_ms']} ms",
        flush=True,
    )


def print_table(results: list[dict]) -> None:
    stages = sorted({s for r in results for s in r["stages"]}, key=lambda s: -max(r["stages"].get(s, 0) for r in results))
    print("\nseconds per stage (ms per generation in brackets)")
    print(f"{'stage':<22}" + "".join(f"{r['size']:>22}" for r in results) + ("   exponent" if len(results) > 1 else ""))
    for stage in [*stages, "wall_s"]:
        cells = "".join(
            f"{(r['stages'].get(stage, 0) if stage != 'wall_s' else r['wall_s']):>12.1f} "
            f"({1000 * (r['stages'].get(stage, 0) if stage != 'wall_s' else r['wall_s']) / max(r['generations'], 1):>6.1f})"
            for r in results
        )
        growth = ""
        if len(results) > 1:
            pairs = [
                (
                    {**a, "x": a["stages"].get(stage, 0) if stage != "wall_s" else a["wall_s"]},
                    {**b, "x": b["stages"].get(stage, 0) if stage != "wall_s" else b["wall_s"]},
                )
                for a, b in zip(results, results[1:])
            ]
            growth = "   " + " ".join(f"{exponent(a, b, 'x'):.2f}" for a, b in pairs)
        print(f"{stage:<22}{cells}{growth}")
    for key in ("peak_rss_mb", "s3_requests", "ledger_statements", "rerun_s", "rerun_s3_requests", "report_first_paint_ms"):
        print(f"{key:<22}" + "".join(f"{r[key] or float('nan'):>22.0f}" for r in results))
    print("\nthe re-run with nothing to do, seconds per stage")
    for stage in sorted(
        {s for r in results for s in r["rerun_stages"]}, key=lambda s: -max(r["rerun_stages"].get(s, 0) for r in results)
    ):
        print(f"{stage:<22}" + "".join(f"{r['rerun_stages'].get(stage, 0):>22.1f}" for r in results))


if __name__ == "__main__":
    main()
