"""The library photos' outfits: parts cut out by the parsing labels, embedded, stored once."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq

from tasks.catalog.library import read_index
from tasks.images import decode_labels, decode_rgb
from tasks.looks.outfits import (
    OUTFIT_SCHEMA,
    SAMPLES,
    build_outfits,
    embed_outfit,
    outfits_sha256,
    part_masks,
    read_outfits,
)
from tasks.preprocess.backends import embedding_backend
from tasks.preprocess.parsing import L
from tasks.storage import LIBRARY_OUTFITS_KEY, library_artifact_key


def test_every_ready_photo_wearing_a_pair_of_parts_is_an_outfit(library_ctx):
    outfits = {o.photo_id: o for o in build_outfits(library_ctx, read_index(library_ctx))}
    parts = {photo_id: sorted(o.parts) for photo_id, o in outfits.items()}
    # the full-length photos show shoes; the dress is worn with shoes and no top or bottom
    assert parts == {
        "01008_00": ["bottom", "top"],
        "049205_0": ["bottom", "shoes", "top"],
        "051918_0": ["bottom", "shoes", "top"],
        "052472_0": ["dress", "shoes"],
        "05997_00": ["bottom", "top"],
        "model_1": ["bottom", "top"],
        "model_6": ["bottom", "top"],
    }
    assert outfits["052472_0"].pairs() == [("dress", "shoes")]
    # sample 0 is the whole part, embedded as the embedder does it; the windows differ from it
    embedder = embedding_backend(library_ctx.settings)
    labels = decode_labels(library_ctx.store.get_bytes(library_artifact_key("049205_0", "parsing.png")))
    image = decode_rgb(library_ctx.store.get_bytes("library/photos/049205_0.jpg"))
    again = embed_outfit(image, labels, embedder, samples=0)
    for part, vectors in outfits["049205_0"].parts.items():
        assert vectors.shape == (SAMPLES + 1, 159)
        np.testing.assert_allclose(vectors[0], again[part][0], atol=1e-6)
        assert np.linalg.norm(vectors[1:] - vectors[0], axis=1).min() > 1e-3
    # the white T-shirt and the blue joggers are far apart; two views of the joggers are near
    top, bottom = outfits["049205_0"].parts["top"], outfits["049205_0"].parts["bottom"]
    assert np.linalg.norm(top[0] - bottom[0]) > 2 * np.median(np.linalg.norm(bottom[1:] - bottom[0], axis=1))
    # all of it, in the library's outfits file, read back the same
    table = pq.read_table(io.BytesIO(library_ctx.store.get_bytes(LIBRARY_OUTFITS_KEY)))
    assert table.schema.equals(OUTFIT_SCHEMA)
    assert table.num_rows == sum(len(v) for o in outfits.values() for v in o.parts.values())
    read = {o.photo_id: o for o in read_outfits(library_ctx)}
    assert read.keys() == outfits.keys()
    for photo_id, outfit in outfits.items():
        for part, vectors in outfit.parts.items():
            np.testing.assert_array_equal(read[photo_id].parts[part], vectors)


def test_an_unchanged_photo_is_not_embedded_again(library_ctx):
    index = read_index(library_ctx)
    first = build_outfits(library_ctx, index)
    key = library_artifact_key("model_1", "outfit.npz")
    stored = library_ctx.store.head(key)
    second = build_outfits(library_ctx, index)
    assert library_ctx.store.head(key) == stored, "outfit.npz was written again"
    assert outfits_sha256(first) == outfits_sha256(second)


def test_a_part_too_small_to_see_is_left_out():
    labels = np.zeros((512, 384), np.uint8)
    labels[100:250, 100:280] = L["upper_clothes"]
    labels[250:480, 120:260] = L["pants"]
    labels[500:504, 150:160] = L["left_shoe"]  # 40 pixels: a speck, not a pair of shoes
    assert sorted(part_masks(labels)) == ["bottom", "top"]
