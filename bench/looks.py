"""Outfit compatibility on the fixture library: held-out figures of the trained model against a
random projection (its own untrained initialisation), and what each step costs.

    .venv/bin/python bench/looks.py [--photos samples/library] [--steps 300] [--threads 1]

Preprocesses the photos in-process (embedded S3 in a temporary home), builds the outfits, then
holds each outfit out in turn: AUC of real against one-part-swapped outfits, and the true
partner's rank among 100 candidates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import REPO, limit_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO / "samples" / "library", help="folder of library photos")
    parser.add_argument("--steps", type=int, default=300, help="training steps per fold")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for OpenCV and BLAS")
    args = parser.parse_args()
    limit_threads(args.threads)

    from tasks.catalog.library import read_index
    from tasks.cli import add_photos, pipeline
    from tasks.context import RunContext
    from tasks.looks.outfits import build_outfits
    from tasks.looks.training import TrainingConfig, evaluation_table, train_and_validate
    from tasks.preprocess.library_stage import build_index, preprocess_model_photos
    from tasks.settings import Settings

    with tempfile.TemporaryDirectory() as home, pipeline(Settings(home=Path(home)), airflow=False) as settings:
        ctx = RunContext.from_settings(settings)
        ctx.store.ensure_bucket()
        photos = add_photos(settings, sorted(p for p in args.photos.iterdir() if p.is_file()))
        started = time.perf_counter()
        build_index(ctx, [preprocess_model_photos(ctx)])
        preprocessed = time.perf_counter()
        outfits = build_outfits(ctx, read_index(ctx))
        embedded = time.perf_counter()
        config = TrainingConfig(steps=args.steps)
        _, evaluation = train_and_validate(outfits, config)
        trained = time.perf_counter()
    worn = ", ".join(f"{o.photo_id}: {'+'.join(sorted(o.parts))}" for o in outfits)
    print(f"{photos} photos, {len(outfits)} outfits ({worn})")
    print(evaluation_table(evaluation))
    print(
        f"time: preprocessing {preprocessed - started:.1f} s, outfit embeddings {embedded - preprocessed:.1f} s, "
        f"the model and the held-out evaluation's (1 + {len(evaluation.folds)} trainings, together) {trained - embedded:.1f} s"
    )


if __name__ == "__main__":
    main()
