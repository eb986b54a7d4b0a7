"""The QC metrics and the Great Expectations suite: real generations pass, deliberately broken
ones are flagged with the right expectation names."""

import cv2
import numpy as np
import pandas as pd
import pytest

from tasks.images import decode_rgb, encode_jpeg
from tasks.inference.warp_baseline import WarpBaselineEngine
from tasks.preprocess.faces import shared_faces
from tasks.qc.metrics import METRIC_COLUMNS, generation_metrics
from tasks.qc.suite import load_config, validate_generations
from tests.conftest import PAIRS


@pytest.fixture(scope="module")
def generations(samples):
    """(sample, stored output) for every fixture pair: the warp baseline, through a JPEG as stored."""
    batch = [samples[pair] for pair in PAIRS]
    outputs = WarpBaselineEngine().generate(batch).images
    return [(s, decode_rgb(encode_jpeg(o))) for s, o in zip(batch, outputs)]


def _row(sample, output, gid=None):
    faces = shared_faces()
    metrics = generation_metrics(output, sample.person, sample.inpaint_mask, sample.cloth, sample.cloth_mask,
                                 bool(faces(sample.person)), faces)
    return {"generation_id": gid or sample.generation_id, "category": sample.category, **metrics}


def test_real_generations_pass_every_expectation(generations):
    table = pd.DataFrame([_row(s, o) for s, o in generations])
    assert set(METRIC_COLUMNS) <= set(table.columns)
    outcome = validate_generations(table)
    assert outcome.failed == {}, table.to_string()
    assert outcome.success and outcome.evaluated == len(generations) and outcome.version == load_config()["version"]
    assert (table["outside_ssim"] > 0.95).all() and (table["outside_changed"] < 0.01).all()
    assert (table["colour_delta_e"] < 15).all()


def test_broken_generations_are_flagged_by_name(generations):
    sample, good = generations[0]  # TEE-03032 on 05997_00
    blank = np.full_like(good, 128)
    altered = good.copy()
    below = np.zeros_like(sample.inpaint_mask)
    below[-350:] = True  # legs and background below the top, outside its region
    altered[below & ~sample.inpaint_mask] = 255 - altered[below & ~sample.inpaint_mask]
    face_gone = good.copy()
    face_gone[:260] = good[5, 5]  # the head painted over with the background
    jeans, pink = generations[2]  # pink jeans: turn them to the opposite hue
    assert jeans.generation_id.startswith("JEANS")
    hsv = cv2.cvtColor(pink, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 90) % 180
    hsv[..., 1] = np.maximum(hsv[..., 1], 120)
    wrong_colour = pink.copy()
    wrong_colour[jeans.inpaint_mask] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[jeans.inpaint_mask]
    table = pd.DataFrame([_row(sample, good, "good"), _row(sample, blank, "blank"), _row(sample, altered, "altered"), _row(sample, face_gone, "face_gone"),
                          _row(jeans, pink, "pink"), _row(jeans, wrong_colour, "wrong_colour"), _row(sample, good[:512], "small")])
    failed = validate_generations(table).failed
    assert "good" not in failed and "pink" not in failed
    assert "not_blank" in failed["blank"] and "garment_colour_kept" in failed["blank"]
    assert set(failed["altered"]) == {"outside_region_similar", "outside_region_preserved"}
    assert failed["wrong_colour"] == ["garment_colour_kept"]
    assert {"face_kept", "outside_region_preserved"} <= set(failed["face_gone"])
    assert failed["small"][0:1] == ["size_height"]


def test_face_and_coverage_expectations_apply_per_row():
    base = {"width": 768, "height": 1024, "luma_std": 40.0, "clipped_excess": 0.0, "outside_ssim": 0.99, "outside_changed": 0.0, "inside_change": 30.0,
            "colour_delta_e": 5.0, "inpaint_coverage": 0.3, "photo_face": True, "output_face": True}
    rows = [
        {**base, "generation_id": "face_lost", "category": "upper_body", "output_face": False},
        {**base, "generation_id": "no_face_anyway", "category": "lower_body", "photo_face": False, "output_face": False},
        {**base, "generation_id": "huge_mask", "category": "upper_body", "inpaint_coverage": 0.6},
        {**base, "generation_id": "dress_mask", "category": "dresses", "inpaint_coverage": 0.6},
    ]
    assert validate_generations(pd.DataFrame(rows)).failed == {"face_lost": ["face_kept"], "huge_mask": ["mask_coverage"]}


def test_inputs_suite_passes_a_good_drop_and_stops_a_broken_one(ctx):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasks.preprocess.library_stage import INDEX_SCHEMA
    from tasks.qc.inputs import InputsInvalid, validate_inputs

    good = [{"sku": "TEE-1", "garment_id": 1, "image_key": "k", "category": "upper_body", "sha256": "a" * 64},
            {"sku": "DRESS-2", "garment_id": 2, "image_key": "k", "category": "dresses", "sha256": "b" * 64}]
    assert validate_inputs(ctx, "2026-11-20", good) == good
    report = ctx.store.get_json("reports/2026-11-20/inputs_validation.json")
    assert [r["suite"] for r in report] == ["drop_inputs_items"] and report[0]["success"]

    broken = [*good, {**good[0], "garment_id": 3, "category": "hats", "sha256": "not-a-hash"}]
    with pytest.raises(InputsInvalid, match=r"drop_inputs_items failed unique_skus, allowed_categories, garment_hashed \(rows: TEE-1\)"):
        validate_inputs(ctx, "2026-11-20", broken)

    ctx.store.put_bytes("drops/2026-11-20/manifest.csv", b"sku,category,title\nTEE-1,upper_body,a tee\nTEE-1,dresses,again\n")
    with pytest.raises(InputsInvalid, match=r"drop_inputs_manifest failed manifest_unique_skus \(rows: TEE-1\)"):
        validate_inputs(ctx, "2026-11-20", good)
    ctx.store.put_bytes("drops/2026-11-20/manifest.csv", b"title,category\na tee,upper_body\n")
    with pytest.raises(InputsInvalid, match=r"manifest_has_sku"):
        validate_inputs(ctx, "2026-11-20", good)
    # a row with an unknown category is discover's business (that SKU is quarantined), not a broken contract
    ctx.store.put_bytes("drops/2026-11-20/manifest.csv", b"sku,category\nTEE-1,upper_body\nDRESS-2,dresses\nHAT-3,hats\n")
    assert validate_inputs(ctx, "2026-11-20", good) == good

    row = {name: None for name in INDEX_SCHEMA.names} | {"photo_id": "p1", "sha256": "c" * 64, "state": "ready"}
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist([row, {**row, "state": "maybe"}], schema=INDEX_SCHEMA).drop_columns(["backends"]), buffer)
    ctx.store.put_bytes("library/index.parquet", buffer.getvalue().to_pybytes())
    with pytest.raises(InputsInvalid, match="drop_inputs_library_index failed index_schema, unique_photo_ids, known_photo_states"):
        validate_inputs(ctx, "2026-11-20", good)
