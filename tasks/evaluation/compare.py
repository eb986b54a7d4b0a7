"""The evaluation's end: every version's ``result.json`` into the ledger (``evaluations``), and
the comparison page (``reports/evaluations/{id}/index.html``): the metrics table with reference
rows, and the same slots side by side across versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import cv2

from tasks.catalog.documents import from_document, to_document
from tasks.evaluation.metrics import KID_SUBSETS
from tasks.evaluation.run import VersionResult
from tasks.evaluation.sets import EvalSet, load_cloth, load_view, read_set
from tasks.images import encode_jpeg
from tasks.storage import evaluation_key


@dataclass(frozen=True)
class Reference:
    label: str
    source: str
    data: str
    ssim: str = ""
    lpips: str = ""
    fid: str = ""
    kid: str = ""


REFERENCES = (
    Reference(
        "LaDI-VTON (published)",
        "CatVTON paper's re-measurement at 512x384",
        "VITON-HD, all (upper body)",
        ssim="0.860",
        lpips="0.073",
        fid="11.39 paired, 14.65 unpaired",
        kid="7.25 paired",
    ),
    Reference(
        "LaDI-VTON (published)",
        "CatVTON paper's re-measurement at 512x384",
        "Dress Code, all categories",
        fid="9.56 paired, 10.68 unpaired",
    ),
    Reference(
        "the seed projects", "their own try-on measurement, with its target", "their test photos", fid="36.1 (target <= 20)"
    ),
)


def figure(value: float | None, digits: int = 3, scale: float = 1.0) -> str:
    """A figure for the page and the command's table ("n/a" where there is none)."""
    return "n/a" if value is None else f"{value * scale:.{digits}f}"


def read_results(ctx: Any, evaluation_id: str, specs: list[str]) -> list[VersionResult]:
    from tasks.evaluation.run import ModelVersion

    return [
        from_document(
            VersionResult, ctx.store.get_json(evaluation_key(evaluation_id, f"{ModelVersion.parse(s).slug}/result.json"))
        )
        for s in specs
    ]


def record(ctx: Any, evaluation_id: str, evalset: EvalSet, results: list[VersionResult]) -> None:
    """The figures as ledger rows (an evaluation recorded again replaces its rows)."""
    from sqlalchemy import delete

    from tasks.ledger import EvaluationRow

    with ctx.ledger.session() as session:
        session.execute(delete(EvaluationRow).where(EvaluationRow.evaluation_id == evaluation_id))
        for result in results:
            engine = result.engine
            for c in result.categories:
                session.add(
                    EvaluationRow(
                        evaluation_id=evaluation_id,
                        set_name=evalset.name,
                        set_sha256=evalset.content_sha256,
                        version=result.spec,
                        engine=engine.engine,
                        model_version=engine.model_version,
                        weights_sha256=engine.weights_sha256,
                        parameters=engine.parameters,
                        baseline=engine.baseline,
                        random_weights=result.random_weights,
                        category=c.category,
                        paired=c.paired,
                        unpaired=c.unpaired,
                        ssim=c.ssim,
                        ssim_masked=c.ssim_masked,
                        lpips=c.lpips,
                        lpips_masked=c.lpips_masked,
                        fid=c.fid,
                        kid=c.kid,
                        kid_std=c.kid_std,
                        seconds_per_image=c.seconds_per_image,
                        qc_pass_rate=c.qc_pass_rate,
                        feature_networks=[asdict(n) for n in result.feature_networks],
                    )
                )


def warnings_of(results: list[VersionResult]) -> list[str]:
    """What makes the figures meaningless as quality numbers, in words, for the top of the page."""
    out = []
    for r in results:
        if r.random_weights:
            out.append(f"{r.spec} runs on random weights: its images are noise and its figures say nothing about the model.")
        elif r.engine.baseline:
            out.append(f"{r.spec} is a baseline engine (no learned model): a floor to compare with, not a candidate.")
    networks = {n.name: n for r in results for n in r.feature_networks}
    random = sorted(name for name, n in networks.items() if n.random_weights)
    if random:
        out.append(
            f"The feature networks {', '.join(random)} hold random weights: FID, KID and LPIPS here check the machinery, "
            "not quality. Register the published Inception-v3 and AlexNet weights for meaningful numbers."
        )
    return out


def _thumbnail(image: Any) -> bytes:
    return encode_jpeg(cv2.resize(image, (384, 512), interpolation=cv2.INTER_AREA), 88)


def render(ctx: Any, evaluation_id: str, evalset: EvalSet, results: list[VersionResult]) -> str:
    """Write the inputs' thumbnails and the page; return the page's key."""
    from tasks.rendering import TEMPLATES

    tried = {slot for r in results for slot in (*r.images, *r.failed)}
    pairs = [p for p in evalset.pairs if p.slot in tried]
    for view_id in sorted({p.view for p in pairs}):
        ctx.store.put_bytes(
            evaluation_key(evaluation_id, f"inputs/photo-{view_id}.jpg"),
            _thumbnail(load_view(ctx.store, evalset.name, view_id).person),
            "image/jpeg",
        )
    for cloth_id in sorted({p.cloth for p in pairs}):
        ctx.store.put_bytes(
            evaluation_key(evaluation_id, f"inputs/cloth-{cloth_id}.jpg"),
            _thumbnail(load_cloth(ctx.store, evalset.name, cloth_id)[0]),
            "image/jpeg",
        )
    rows = []
    for r in results:
        note = "random weights" if r.random_weights else ("baseline" if r.engine.baseline else "")
        for c in r.categories:
            kid = "n/a" if c.kid is None else f"{c.kid * 1e3:.2f} ± {(c.kid_std or 0) * 1e3:.2f} (n={c.kid_subset_size})"
            rows.append(
                {
                    "version": r.spec,
                    "note": note,
                    "category": c.category,
                    "paired": c.paired,
                    "unpaired": c.unpaired,
                    "ssim": figure(c.ssim),
                    "ssim_masked": figure(c.ssim_masked),
                    "lpips": figure(c.lpips),
                    "lpips_masked": figure(c.lpips_masked),
                    "fid": figure(c.fid, 2),
                    "kid": kid,
                    "seconds": figure(c.seconds_per_image, 2),
                    "qc": "n/a" if c.qc_pass_rate is None else f"{c.qc_passed}/{c.qc_checked}",
                }
            )
    slots = []
    for pair in pairs:
        images: list[dict[str, str | None]] = []
        for r in results:
            if pair.slot in r.images:
                images.append({"src": quote(f"{r.slug}/{pair.slot}.jpg"), "alt": f"{r.spec} {pair.slot}"})
            else:
                images.append({"src": None, "alt": f"no image: {r.failed.get(pair.slot, 'not generated')}"})
        slots.append(
            {
                "name": pair.slot,
                "category": pair.category,
                "paired": pair.paired,
                "view": pair.view,
                "cloth_id": pair.cloth,
                "photo": quote(f"inputs/photo-{pair.view}.jpg"),
                "cloth": quote(f"inputs/cloth-{pair.cloth}.jpg"),
                "images": images,
            }
        )
    failed = [(r.spec, slot, why) for r in results for slot, why in sorted(r.failed.items())]
    html = TEMPLATES.get_template("evaluation.html").render(
        evaluation_id=evaluation_id,
        evalset=evalset,
        warnings=warnings_of(results),
        rows=rows,
        references=REFERENCES,
        kid_subsets=KID_SUBSETS,
        versions=results,
        slots=slots,
        failed=failed,
    )
    key = evaluation_key(evaluation_id, "index.html")
    ctx.store.put_bytes(key, html.encode(), "text/html; charset=utf-8")
    return key


@dataclass
class Comparison:
    """``results.json`` of an evaluation: every version's figures on the set, the page, and what
    makes the figures meaningless as quality numbers (``warnings``). What the command prints."""

    evaluation_id: str
    set: str
    set_sha256: str
    page: str
    versions: list[VersionResult]
    warnings: list[str]


def compare(ctx: Any, evaluation_id: str, set_name: str, specs: list[str]) -> Comparison:
    """Record every version's figures and write the page and ``results.json``."""
    evalset = read_set(ctx.store, set_name)
    results = read_results(ctx, evaluation_id, specs)
    record(ctx, evaluation_id, evalset, results)
    page = render(ctx, evaluation_id, evalset, results)
    comparison = Comparison(evaluation_id, set_name, evalset.content_sha256, page, results, warnings_of(results))
    ctx.store.put_json(evaluation_key(evaluation_id, "results.json"), to_document(comparison))
    return comparison


def read_comparison(store: Any, evaluation_id: str) -> Comparison | None:
    document = store.get_json_or_none(evaluation_key(evaluation_id, "results.json"))
    return None if document is None else from_document(Comparison, document)
