"""Full-outfit try-on: for each new upper- or lower-body garment of a drop and the partner the
compatibility model scores best with it (a storefront garment or another garment of the drop),
one image of both worn together on a photo.

The canvas is the photo's lower-body view (it frames the whole person). The engine runs twice:
the upper-body garment first, in the upper-body inpaint mask computed on that view's parsing and
keypoints; then the lower-body garment on the first result, in the view's lower-body mask less
what the first pass painted (so the second pass never paints over the new top). The keypoints
and pose map are the view's for both passes: try-on moves no joint; the second pass's inputs
are updated in the mask and the image.

QC judges each pass with the generation suite (the upper pass against the photo, the lower pass
against the first result: so the final image's body, face and outside region are judged
against what it started from), and checks that the upper garment is still there in the final
image (its colour within the suite's garment-colour bound). The image is published as
``storefront/looks/{look_id}/{photo_id}.jpg`` only when it passed QC and the engine is a
released model; otherwise it waits in ``review/{date}/looks/{look_id}/{photo_id}/`` with a
sidecar naming both garments and what failed.

Deterministic: the look id is the hash of the two garments' contents, the generation id adds the
photo, the engine's version, weights and seed. A re-run finds the image stored and the verdict
recorded, and makes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from sqlalchemy import select

from tasks.catalog.documents import JsonObject
from tasks.catalog.garments import load_garment
from tasks.catalog.library import load_photo, load_view_labels, read_index
from tasks.catalog.qc_table import MetricRow, TableRow
from tasks.context import RunContext
from tasks.images import encode_jpeg, sha256_hex
from tasks.inference.engine import Engine, Release, TryOnSample, generate_each
from tasks.inference.factory import get_engine
from tasks.items import chunked
from tasks.ledger import Garment, Generation, GenerationState, LookGeneration
from tasks.looks.drop_looks import PARTNER_CATEGORIES, garment_vectors, ranked_partners, storefront_garments
from tasks.looks.store import LooksCard, current_card, load_model
from tasks.preprocess.faces import shared_faces
from tasks.preprocess.masks import inpaint_mask
from tasks.qc.appearance import read_cloth
from tasks.qc.judge import OUTFIT_TOP_KEPT, TOP_KEPT, kept_in_outfit, measure, verdicts, view_inputs, with_cloth
from tasks.qc.suite import SuiteConfig
from tasks.qc.suite_versions import current_suite
from tasks.settings import Settings
from tasks.states import initial, move
from tasks.storage import look_generation_key, review_look_key
from tasks.storefront import Gate, preview_reason, write_manifest

CANVAS = "lower_body"  # the view both passes paint on: it frames the whole person
PASSED, FLAGGED, FAILED = GenerationState.PASSED.value, GenerationState.FLAGGED.value, GenerationState.FAILED.value
PUBLISHED, REJECTED = GenerationState.PUBLISHED.value, GenerationState.REJECTED.value


@dataclass(frozen=True)
class LookGarment:
    sku: str
    category: str
    sha256: str


@dataclass(frozen=True)
class PlannedLook:
    look_id: str
    upper: LookGarment
    lower: LookGarment
    score: float
    photo_id: str


def look_id_of(upper_sha256: str, lower_sha256: str) -> str:
    return sha256_hex(f"look {upper_sha256} {lower_sha256}".encode())[:16]


def _drop_garments(ctx: RunContext, date: str) -> tuple[list[LookGarment], dict[str, list[str]]]:
    """The drop's garments that were tried on (upper or lower body), and the photos each was
    matched to."""
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Garment.sku, Garment.category, Garment.sha256, Generation.photo_id)
            .join(Generation, Generation.garment_id == Garment.id)
            .where(Garment.drop_date == date, Garment.category.in_(("upper_body", "lower_body")))
            .order_by(Garment.sku, Generation.photo_id)
        ).all()
    garments: dict[str, LookGarment] = {}
    photos: dict[str, list[str]] = {}
    for sku, category, sha256, photo_id in rows:
        if sha256 is None:
            continue
        garments[sku] = LookGarment(sku, category, sha256)
        photos.setdefault(sku, []).append(photo_id)
    return list(garments.values()), photos


def plan_looks(ctx: RunContext, date: str, card: LooksCard) -> tuple[list[PlannedLook], dict[str, str]]:
    """One look per new garment (its best partner), each pair once; and per SKU without a look,
    why."""
    model = load_model(ctx, card)
    mine, matched = _drop_garments(ctx, date)
    pool = {g.sku: LookGarment(g.sku, g.category, g.garment_sha256) for g in storefront_garments(ctx)}
    pool.update({g.sku: g for g in mine})
    vectors, _ = garment_vectors(ctx, {sku: g.sha256 for sku, g in pool.items()}, card.embedding_backend)
    both = sorted(
        row.photo_id
        for row in read_index(ctx)
        if row.state == "ready" and row.suitable.get("upper_body") and row.suitable.get(CANVAS)
    )
    looks: dict[str, PlannedLook] = {}
    skipped: dict[str, str] = {}
    for garment in mine:
        if garment.sku not in vectors:
            skipped[garment.sku] = f"not embedded with {card.embedding_backend}, the looks model's backend"
            continue
        ranked = ranked_partners(model, garment.sku, garment.category, list(pool.values()), vectors)
        if not ranked:
            skipped[garment.sku] = f"no {' or '.join(PARTNER_CATEGORIES[garment.category])} garment to pair with"
            continue
        partner, score = ranked[0]
        upper, lower = (garment, partner) if garment.category == "upper_body" else (partner, garment)
        preferred = [p for p in matched.get(garment.sku, []) + matched.get(partner.sku, []) if p in both]
        if not preferred and not both:
            skipped[garment.sku] = "no library photo shows both the upper and the lower body"
            continue
        look_id = look_id_of(upper.sha256, lower.sha256)
        looks.setdefault(look_id, PlannedLook(look_id, upper, lower, round(score, 4), (preferred or both)[0]))
    return sorted(looks.values(), key=lambda look: look.look_id), skipped


def generation_id_of(look: PlannedLook, engine: Engine, seed: int) -> str:
    made_by = f"{engine.model_version} {engine.weights_sha256} {sorted(engine.parameters.items())} {seed}"
    return sha256_hex(f"{look.look_id} {look.photo_id} {made_by}".encode())[:32]


@dataclass
class OutfitCanvas:
    """The photo's whole-person view and the two passes' masks on it."""

    view: dict[str, np.ndarray]  # person, person_mask, inpaint_mask (the view's own, lower body), keypoints
    labels: np.ndarray  # the view's parsing, 512x384
    upper_mask: np.ndarray
    lower_mask: np.ndarray


def outfit_canvas(ctx: RunContext, photo_id: str) -> OutfitCanvas:
    view = load_photo(ctx, photo_id, CANVAS)
    labels = load_view_labels(ctx, photo_id, CANVAS)
    if labels is None:
        raise ValueError(f"photo {photo_id}: its {CANVAS} view predates stored parsing; rebuild the library")
    height, width = view["person"].shape[:2]
    half = view["keypoints"].copy()
    half[:, :2] *= labels.shape[1] / width
    upper = cv2.resize(
        inpaint_mask("upper_body", labels, half).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
    )
    upper_mask = upper > 0
    return OutfitCanvas(view, labels, upper_mask, view["inpaint_mask"] & ~upper_mask)


def _sample(generation_id: str, category: str, person: np.ndarray, canvas: OutfitCanvas, mask: np.ndarray, garment, seed: int):
    cloth, cloth_mask = garment
    return TryOnSample(
        generation_id=generation_id,
        category=category,
        person=person,
        person_mask=canvas.view["person_mask"],
        inpaint_mask=mask,
        keypoints=canvas.view["keypoints"],
        cloth=cloth,
        cloth_mask=cloth_mask,
        seed=seed,
    )


def judge(
    final: np.ndarray, first: np.ndarray, canvas: OutfitCanvas, upper: tuple, lower: tuple, config: SuiteConfig
) -> tuple[list[str], dict[str, MetricRow | float]]:
    """The checks the outfit image fails (none: it passed) as ``pass/check`` names, and the
    measurements behind them (per pass, and the share of the top still showing in the final image)."""
    faces = shared_faces()
    face = bool(faces(canvas.view["person"]))
    upper_cloth, lower_cloth = read_cloth(*upper), read_cloth(*lower)
    rows: list[TableRow] = []
    for name, category, output, photo, mask, cloth in (
        ("upper", "upper_body", first, canvas.view["person"], canvas.upper_mask, upper_cloth),
        ("lower", "lower_body", final, first, canvas.lower_mask, lower_cloth),
    ):
        view = {**canvas.view, "person": photo, "inpaint_mask": mask}
        inputs = with_cloth(view_inputs(category, view, canvas.labels, face), cloth)
        rows.append({"generation_id": name, "category": category, **measure(output, inputs, faces)})
    failed_by_pass = verdicts(rows, config)
    failed = [f"{name}/{check}" for name in ("upper", "lower") for check in failed_by_pass[name]]
    top_kept, kept = kept_in_outfit(first, final, canvas.upper_mask, upper_cloth)
    if not top_kept:
        failed.append(OUTFIT_TOP_KEPT)
    measured: dict[str, MetricRow | float] = {
        str(row["generation_id"]): {k: v for k, v in row.items() if isinstance(v, (int, float, bool))} for row in rows
    }
    return failed, {**measured, "upper_kept_in_final": kept, "upper_kept_bound": TOP_KEPT}


def _sidecar(row: LookGeneration, engine: Engine, look: PlannedLook, card: LooksCard) -> JsonObject:
    return {
        **engine.describe().document(),
        "generation_id": row.generation_id,
        "look_id": row.look_id,
        "photo_id": row.photo_id,
        "drop_date": row.drop_date,
        "seed": row.seed,
        "garments": [
            {"role": "upper", "sku": look.upper.sku, "category": look.upper.category, "garment_sha256": look.upper.sha256},
            {"role": "lower", "sku": look.lower.sku, "category": look.lower.category, "garment_sha256": look.lower.sha256},
        ],
        "score": look.score,
        "looks_model": {"version": card.version, "sha256": card.sha256, "released": card.released},
        "passes": ["upper_body", "lower_body"],
        "state": row.state,
        "reason": row.reason,
        "failed_checks": list(row.failed_checks or []),
    }


@dataclass
class _LookInputs:
    look: PlannedLook
    row: LookGeneration
    canvas: OutfitCanvas
    upper: tuple[np.ndarray, np.ndarray]  # the garment's cloth and mask
    lower: tuple[np.ndarray, np.ndarray]


def make_looks(
    ctx: RunContext, engine: Engine, batch: list[tuple[PlannedLook, LookGeneration]], card: LooksCard, config: SuiteConfig
) -> int:
    """Generate (two passes, each one engine call for the whole batch, as try-on shards batch),
    judge and store a batch of look generations; each ``row`` takes its verdict, a look whose
    inputs or engine call failed fails alone. Returns how many images were made."""
    ready: list[_LookInputs] = []
    for look, row in batch:
        try:
            canvas = outfit_canvas(ctx, look.photo_id)
            upper, lower = load_garment(ctx, look.upper.sha256), load_garment(ctx, look.lower.sha256)
        except Exception as error:
            move(row, FAILED, f"outfit_failed: {type(error).__name__}: {error}")
            continue
        ready.append(_LookInputs(look, row, canvas, upper, lower))
    first = _engine_pass(
        engine,
        {
            i.row.generation_id: (
                i,
                _sample(
                    i.row.generation_id, "upper_body", i.canvas.view["person"], i.canvas, i.canvas.upper_mask, i.upper, i.row.seed
                ),
            )
            for i in ready
        },
    )
    final = _engine_pass(
        engine,
        {
            gid: (i, _sample(gid, "lower_body", first[gid][0], i.canvas, i.canvas.lower_mask, i.lower, i.row.seed + 1))
            for i in ready
            if (gid := i.row.generation_id) in first
        },
    )
    made = 0
    for i in ready:
        gid = i.row.generation_id
        if gid not in final:
            continue
        try:
            _finish(ctx, engine, i, first[gid], final[gid], card, config)
            made += 1
        except Exception as error:  # one look fails alone
            move(i.row, FAILED, f"outfit_failed: {type(error).__name__}: {error}")
    return made


def _engine_pass(engine: Engine, samples: dict[str, tuple[_LookInputs, TryOnSample]]) -> dict[str, tuple[np.ndarray, JsonObject]]:
    """One engine call for these looks' samples (by generation id): the images made; a look whose
    sample failed fails with the engine's error."""
    made: dict[str, tuple[np.ndarray, JsonObject]] = {}
    if not samples:
        return made
    for gid, result in generate_each(engine, [sample for _, sample in samples.values()]).items():
        if isinstance(result, str):
            move(samples[gid][0].row, FAILED, f"outfit_failed: {result}")
        else:
            made[gid] = result
    return made


def _finish(
    ctx: RunContext,
    engine: Engine,
    made: _LookInputs,
    first_pass: tuple[np.ndarray, JsonObject],
    final_pass: tuple[np.ndarray, JsonObject],
    card: LooksCard,
    config: SuiteConfig,
) -> None:
    """Judge and store one look generation made by both passes; its row takes the verdict."""
    (first, first_detail), (final, final_detail) = first_pass, final_pass
    look, row = made.look, made.row
    row.failed_checks, measured = judge(final, first, made.canvas, made.upper, made.lower, config)
    release = engine.release
    if row.failed_checks:
        move(row, FLAGGED, "failed: " + ", ".join(row.failed_checks))
    elif not release.released:  # a preview waits for a reviewer, whatever QC says
        move(row, FLAGGED, preview_reason(release.note))
    else:
        move(row, PASSED)
    key = look_generation_key(row.model_version, look.look_id, look.photo_id, row.generation_id)
    stem = key.rsplit(".", 1)[0]
    sidecar = {**_sidecar(row, engine, look, card), "qc": measured, "detail": {"upper": first_detail, "lower": final_detail}}
    ctx.store.put_bytes(stem + "_upper.jpg", encode_jpeg(first, ctx.settings.jpeg_quality), "image/jpeg")  # the first pass
    ctx.store.put_json(stem + ".json", sidecar)
    ctx.store.put_bytes(key, encode_jpeg(final, ctx.settings.jpeg_quality), "image/jpeg")  # last: an image is a whole generation
    row.object_key = key


def route(ctx: RunContext, gate: Gate, row: LookGeneration) -> None:
    """A passed look generation before the storefront gate (it enters when its model is released
    now, and is then ``published``), a flagged one to the review prefix with its sidecar; what is
    there already is not copied again."""
    if row.object_key is None:
        return
    gate.admit_look(row)
    if row.state == FLAGGED:
        for ext in ("jpg", "json"):
            target = review_look_key(row.drop_date, row.look_id, row.photo_id, row.generation_id, ext)
            if not ctx.store.exists(target):
                ctx.store.copy(row.object_key.rsplit(".", 1)[0] + "." + ext, target)


@dataclass
class OutfitsMade:
    """What the outfits step did: looks planned, images made now or found made, the looks by the
    state they ended in, and per SKU without a look, why; or, when it made none, why."""

    looks: int = 0
    generated: int = 0
    existing: int = 0
    states: dict[str, int] = field(default_factory=lambda: {PUBLISHED: 0, FLAGGED: 0, FAILED: 0})
    skipped: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    note: str | None = None

    def figures(self) -> dict[str, int | str | None]:
        """The counts for the stage record (the per-SKU reasons left out)."""
        return {"looks": self.looks, "generated": self.generated, "existing": self.existing, **self.states, "model": self.model}


def _row(ctx: RunContext, date: str, look: PlannedLook, engine: Engine, card: LooksCard) -> LookGeneration:
    """The look generation's ledger row as recorded (detached), or a new one, planned."""
    seed = int(sha256_hex(f"{look.look_id} {look.photo_id} {ctx.settings.seed}".encode())[:8], 16) & 0x7FFFFFFF
    gid = generation_id_of(look, engine, seed)
    with ctx.ledger.session() as session:  # no transaction is held while the engine runs
        found = session.get(LookGeneration, gid)
        if found is not None:
            session.expunge(found)
    return found or initial(
        LookGeneration(
            generation_id=gid,
            look_id=look.look_id,
            drop_date=date,
            photo_id=look.photo_id,
            upper_sku=look.upper.sku,
            upper_garment_sha256=look.upper.sha256,
            lower_sku=look.lower.sku,
            lower_garment_sha256=look.lower.sha256,
            score=look.score,
            looks_model_version=card.version,
            engine=engine.name,
            model_version=engine.model_version,
            weights_sha256=engine.weights_sha256,
            seed=seed,
            failed_checks=[],
        ),
        GenerationState.PLANNED,
    )


def _record(ctx: RunContext, gate: Gate, row: LookGeneration, made: OutfitsMade) -> None:
    """Route the look generation, write its row, count its state."""
    route(ctx, gate, row)
    with ctx.ledger.session() as session:
        session.merge(row)
    made.states[row.state] = made.states.get(row.state, 0) + 1


def why_no_outfits(settings: Settings, release: Release) -> str | None:
    """Why an engine of ``release`` makes no full outfits under ``TRYON_OUTFITS`` (None: it makes them)."""
    if settings.outfits == "never":
        return "TRYON_OUTFITS is never"
    if settings.outfits == "released" and not release.released:
        return f"{release.note} (TRYON_OUTFITS=always makes previews)"
    return None


def make_outfits(ctx: RunContext, date: str) -> OutfitsMade:
    """Plan the drop's looks, make each one's image once (``batch_size`` looks an engine call),
    judge and route it."""
    engine = get_engine(ctx.settings)
    if (why := why_no_outfits(ctx.settings, engine.release)) is not None:
        return OutfitsMade(note=f"no full outfits: {why}")
    card = current_card(ctx)
    if card is None:
        return OutfitsMade(note="no compatibility model yet (model_library's looks task trains one)")
    looks, skipped = plan_looks(ctx, date, card)
    config, gate = current_suite(ctx), Gate(ctx)
    made = OutfitsMade(looks=len(looks), skipped=skipped, model=card.version)
    todo: list[tuple[PlannedLook, LookGeneration]] = []
    for look in looks:
        row = _row(ctx, date, look, engine, card)
        stored = row.object_key is not None and ctx.store.exists(row.object_key)
        if row.state in (GenerationState.PLANNED.value, FAILED) or (not stored and row.state != REJECTED):
            todo.append((look, row))
        else:
            made.existing += 1
            _record(ctx, gate, row, made)
    for batch in chunked(todo, ctx.settings.batch_size):
        made.generated += make_looks(ctx, engine, batch, card, config)
        for _, row in batch:
            _record(ctx, gate, row, made)
    if made.states[PUBLISHED]:
        write_manifest(ctx, date)  # the date's manifest lists its full-outfit images too
    return made
