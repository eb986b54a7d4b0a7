"""The QC stage: run the image checks on every generated image of a date, record each check
in the ledger and move the generation to ``passed`` or ``flagged``."""

from __future__ import annotations

import functools

from sqlalchemy import select

from tasks.context import RunContext
from tasks.images import decode_rgb
from tasks.ledger import Generation, GenerationState, QCResult
from tasks.preprocess.library_stage import load_photo
from tasks.qc.checks import run_checks

TO_CHECK = (GenerationState.GENERATED.value, GenerationState.PASSED.value, GenerationState.FLAGGED.value)


def check_generations(ctx: RunContext, date: str) -> dict[str, int]:
    counts = {"passed": 0, "flagged": 0}
    photo = functools.cache(lambda photo_id, category: load_photo(ctx, photo_id, category))
    with ctx.ledger.session() as session:
        rows = session.scalars(select(Generation).where(Generation.drop_date == date, Generation.state.in_(TO_CHECK)))
        for row in rows:
            inputs = photo(row.photo_id, row.category)
            output = decode_rgb(ctx.store.get_bytes(row.object_key))
            results = run_checks(output, inputs["person"], inputs["inpaint_mask"])
            existing = {r.check: r for r in session.scalars(select(QCResult).where(QCResult.generation_id == row.generation_id))}
            for result in results:
                record = existing.get(result.check) or QCResult(generation_id=row.generation_id, check=result.check)
                record.passed, record.value, record.threshold = result.passed, result.value, result.threshold
                record.reason, record.state = result.reason, "passed" if result.passed else "failed"
                session.add(record)
            failed = [r for r in results if not r.passed]
            if failed:
                row.state = GenerationState.FLAGGED.value
                row.reason = "; ".join(f"{r.check}: {r.reason}" for r in failed)
                counts["flagged"] += 1
            else:
                row.state, row.reason = GenerationState.PASSED.value, None
                counts["passed"] += 1
    return counts
