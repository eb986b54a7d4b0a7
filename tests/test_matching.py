"""Matching by appearance: recoloured copies of one photo and one garment, where the right
answer is known, and batches that hold one cluster each."""

import cv2
import numpy as np
import pytest

from tasks.catalog import library as catalog_library
from tasks.images import decode_rgb, encode_png
from tasks.intake import discover, validate
from tasks.ledger import Generation
from tasks.match import match
from tasks.preprocess import library_stage
from tasks.preprocess.embedding import kmeans
from tasks.preprocess.garment_mask import border_cut
from tasks.preprocess.garment_stage import preprocess_garments
from tasks.preprocess.model_photo import prepare_model_photo
from tasks.preprocess.parsing import ATR_LABELS
from tasks.settings import Settings
from tests.conftest import GARMENTS, SAMPLES

DATE = "2026-11-20"
TINTS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220)}


def _tint(image, region, colour):
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    out = image.copy()
    out[region] = np.clip(grey[region, None] * np.array(colour, np.float32), 0, 255).astype(np.uint8)
    return out


@pytest.fixture
def recoloured(ctx):
    """model_6 (white tank top) recoloured red, green and blue; the lilac tee likewise."""
    photo = decode_rgb((SAMPLES / "library" / "model_6.png").read_bytes())
    labels = prepare_model_photo(photo, Settings()).labels
    top = cv2.resize(labels, photo.shape[1::-1], interpolation=cv2.INTER_NEAREST) == ATR_LABELS["upper_clothes"]
    for name, colour in TINTS.items():
        ctx.store.put_bytes(f"library/photos/top-{name}.png", encode_png(_tint(photo, top, colour)))
    tee = decode_rgb(GARMENTS["TEE-00055"][0].read_bytes())
    mask = border_cut(tee).mask
    for name, colour in TINTS.items():
        ctx.store.put_bytes(f"drops/{DATE}/TEE-{name.upper()}/front.png", encode_png(_tint(tee, mask, colour)))
        ctx.store.put_json(f"drops/{DATE}/TEE-{name.upper()}/meta.json", {"category": "upper_body"})
    assert library_stage.preprocess_model_photos(ctx).ready == 3
    library_stage.build_index(ctx)
    return preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE)))


def test_each_garment_goes_to_the_photo_wearing_its_colour(ctx, recoloured):
    ctx.settings.photos_per_garment = 1
    match(ctx, DATE, recoloured)
    chosen = {g.sku: g.photo_id for g in ctx.ledger.generations(DATE)}
    assert chosen == {f"TEE-{name.upper()}": f"top-{name}" for name in TINTS}


def test_batches_hold_one_cluster_each(ctx, recoloured):
    ctx.settings.photos_per_garment = 2
    shards = match(ctx, DATE, recoloured)
    assert [s.index for s in shards] == [0], "a night smaller than shard_min_generations is one shard"
    batches = shards[0].batches
    clusters = {row.photo_id: row.clusters["upper_body"] for row in catalog_library.read_index(ctx)}
    assert len(set(clusters.values())) >= 2, "three colours make more than one cluster"
    with ctx.ledger.session() as session:
        for batch in batches:
            assert len({clusters[session.get(Generation, gid).photo_id] for gid in batch}) == 1
    assert sum(len(b) for b in batches) == 6


def test_kmeans_is_deterministic_and_separates_clear_groups():
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(0, 0.05, (10, 4)), rng.normal(1, 0.05, (10, 4))])
    centroids, assignment = kmeans(points, 2, seed=0)
    again = kmeans(points, 2, seed=0)
    assert np.array_equal(assignment, again[1]) and np.allclose(centroids, again[0])
    assert len(set(assignment[:10])) == 1 and len(set(assignment[10:])) == 1 and assignment[0] != assignment[10]
    assert kmeans(points[:1], 5)[0].shape == (1, 4), "k is capped at the distinct points"
