"""The run report of a big night: a date with 10,000 garments and 20,000 flagged generations
(ledger rows and thumbnails made up, in the embedded store's folder), its report written by
``write_report``, then opened in headless Chromium: the seconds to write it, its size, and the
milliseconds to first contentful paint (issue 16's bar: under 3 s).

    .venv/bin/python bench/report_scale.py [--generations 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATE = "2026-11-20"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=20_000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    home = Path(tempfile.mkdtemp(prefix="report-scale-"))
    os.environ["TRYON_HOME"] = str(home)
    import numpy as np
    from drop_scale import first_paint

    from tasks.context import RunContext
    from tasks.embedded_s3 import embedded_s3
    from tasks.images import encode_jpeg
    from tasks.ledger import Garment, Generation, ModelPhoto
    from tasks.report import write_report
    from tasks.settings import get_settings

    settings = get_settings()
    bucket = home / "s3" / settings.bucket
    thumb = encode_jpeg(np.full((192, 144, 3), 180, np.uint8), 85)
    garments = args.generations // 2
    for number in range(garments):  # the drop's inputs, as files in the embedded store's folder
        folder = bucket / "drops" / DATE / f"SKU-{number:06d}"
        folder.mkdir(parents=True)
        (folder / "front.jpg").write_bytes(b"made up")
    (bucket / "reports" / DATE / "thumbs").mkdir(parents=True)
    with embedded_s3(settings, home / "s3") as endpoint:
        ctx = RunContext.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint}))
        with ctx.ledger.session() as session:
            session.add_all(
                [ModelPhoto(photo_id=f"photo-{p}", sha256="0" * 64, source_key="made-up", state="ready") for p in range(2)]
            )
            session.add_all(
                [
                    Garment(
                        id=n + 1,
                        drop_date=DATE,
                        sku=f"SKU-{n:06d}",
                        category="upper_body",
                        state="flagged",
                        reason="failed: made up",
                    )
                    for n in range(garments)
                ]
            )
            session.flush()
            rows = []
            for n in range(garments):
                for p in range(2):
                    gid = f"{n:06d}{p}".ljust(32, "0")
                    rows.append(
                        Generation(
                            generation_id=gid,
                            garment_id=n + 1,
                            photo_id=f"photo-{p}",
                            drop_date=DATE,
                            sku=f"SKU-{n:06d}",
                            category="upper_body",
                            engine="null",
                            model_version="null-1.0.0",
                            weights_sha256="none",
                            seed=0,
                            object_key=f"generations/x/{gid}.jpg",
                            state="flagged",
                            reason="failed: made up",
                        )
                    )
                    (bucket / "reports" / DATE / "thumbs" / f"{gid}.jpg").write_bytes(thumb)
            session.add_all(rows)
        started = time.perf_counter()
        write_report(ctx, DATE)
        written = time.perf_counter() - started
    report = bucket / "reports" / DATE / "report.html"
    pages = len(list(report.parent.glob("generations-*.html")))
    paint = first_paint(report)
    print(
        f"{args.generations} generations of {garments} garments: report written in {written:.1f} s; report.html "
        f"{report.stat().st_size / 1024:.0f} KB and {pages} more pages of thumbnails; first contentful paint in Chromium "
        f"{paint:.0f} ms (bar: under 3000 ms)"
    )


if __name__ == "__main__":
    main()
