"""Milliseconds per model photo per preprocessing stage, on CPU, with the offline backends
(mediapipe pose, segmentation and faces; fallback parsing; colour-texture embeddings); then the
library's verdicts on the sample photos and the hard library cases (tests/data/library_cases/)
against what each should get, and the false-refusal rate: one-person photos refused.

    .venv/bin/python bench/preprocess.py [--repeat 5] [--threads 1]

One thread by default, so the figure is per photo per core. The first pass over each photo
warms the models up and is not counted. Storage (PNG encoding, S3) is not included: this is
the compute a worker spends per photo.
"""

from __future__ import annotations

import sys
import time

from common import REPO, parse_args, report_medians


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], "photos", REPO / "samples" / "library")
    from tasks.images import decode_rgb
    from tasks.preprocess.model_photo import prepare_model_photo
    from tasks.settings import Settings

    settings = Settings()
    paths = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    data = {p.name: p.read_bytes() for p in paths}
    for blob in data.values():  # warm-up
        prepare_model_photo(decode_rgb(blob), settings)

    stages: dict[str, list[float]] = {}
    totals: dict[str, list[float]] = {name: [] for name in data}
    categories: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        for name, blob in data.items():
            start = time.perf_counter()
            image = decode_rgb(blob)
            decoded = time.perf_counter()
            photo = prepare_model_photo(image, settings)
            end = time.perf_counter()
            stages.setdefault("decode", []).append((decoded - start) * 1000)
            for stage, ms in photo.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
            totals[name].append((end - start) * 1000)
            categories[name] = photo.categories

    runs = args.repeat * len(data)
    print(f"{len(data)} photos x {args.repeat} passes, {args.threads} thread(s); mean ms per photo per stage")
    for stage, values in stages.items():
        print(f"  {stage:<13} {sum(values) / runs:7.1f}")
    print("total per photo (median of passes):")
    report_medians(
        totals, {n: f"({', '.join(c)})" for n, c in categories.items()}, "total per photo", "target < 150 ms per photo per core"
    )
    verdicts()
    return 0


LIBRARY_CASES = REPO / "tests" / "data" / "library_cases"
SHOULD_BE = {"two-people-grey.jpg": "multiple_people"}  # every other photo shows one person and should be ready


def verdicts() -> None:
    """Each photo's verdict beside what it should be; the share of one-person photos refused."""
    from tasks.images import decode_rgb
    from tasks.preprocess.cleaning import PhotoRejected
    from tasks.preprocess.model_photo import prepare_model_photo
    from tasks.settings import Settings

    paths = sorted(
        p for folder in (REPO / "samples" / "library", LIBRARY_CASES) for p in folder.iterdir() if p.suffix in (".jpg", ".png")
    )
    refused = wrong = 0
    print("\nlibrary verdicts (what each photo got | what it should get)")
    for path in paths:
        try:
            got = "ready: " + ", ".join(prepare_model_photo(decode_rgb(path.read_bytes()), Settings()).categories)
        except PhotoRejected as error:
            got = str(error)
        should = SHOULD_BE.get(path.name, "ready")
        ok = got.startswith(should)
        refused += should == "ready" and not got.startswith("ready")
        wrong += not ok
        print(f"  {'ok ' if ok else 'NO '} {path.name:<26} {got[:100]:<100} | {should}")
    one_person = sum(SHOULD_BE.get(p.name, "ready") == "ready" for p in paths)
    print(
        f"false refusals: {refused} of {one_person} one-person photos ({refused / max(1, one_person):.0%}); wrong verdicts: {wrong} of {len(paths)}"
    )


if __name__ == "__main__":
    sys.exit(main())
