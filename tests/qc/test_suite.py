"""The Great Expectations suites: the generation suite judges the metrics table per row (the
measurements themselves are tested in test_metrics.py), the inputs suite stops a broken drop."""

from dataclasses import replace

import pandas as pd
import pytest

from tasks.catalog.qc_table import METRIC_COLUMNS
from tasks.qc.suite import load_config, validate_generations
from tests.conftest import REPO

GOOD_ROW = {
    "width": 768,
    "height": 1024,
    "luma_std": 40.0,
    "clipped_excess": 0.0,
    "outside_ssim": 0.99,
    "outside_changed": 0.0,
    "inside_change": 30.0,
    "colour_delta_e": 5.0,
    "inpaint_coverage": 0.3,
    "photo_face": True,
    "output_face": True,
    "garment_coverage": 0.9,
    "old_garment_left": 0.0,
    "skin_in_garment": 0.0,
    "garment_overflow": 0.0,
    "garment_split": 0.0,
    "print_aspect": float("nan"),
    "seam_excess": 0.5,
    "noise_ratio": 1.0,
    "frame_width": 0,
    "pose_shift": 0.02,
    "person_parts": 0,
    "old_garment_beside": 0.0,
    "garment_torn": 0.0,
    "print_matched": float("nan"),
    "foreign_colours": 0.0,
    "skin_erased": 0.0,
}


def test_expectations_apply_per_row_and_failures_come_in_suite_order():
    assert set(GOOD_ROW) == set(METRIC_COLUMNS)
    rows = [
        {**GOOD_ROW, "generation_id": "good", "category": "upper_body"},
        {**GOOD_ROW, "generation_id": "no_print", "category": "upper_body", "print_aspect": None},
        {**GOOD_ROW, "generation_id": "face_lost", "category": "upper_body", "output_face": False},
        {**GOOD_ROW, "generation_id": "no_face_anyway", "category": "lower_body", "photo_face": False, "output_face": False},
        {**GOOD_ROW, "generation_id": "huge_mask", "category": "upper_body", "inpaint_coverage": 0.6},
        {**GOOD_ROW, "generation_id": "dress_mask", "category": "dresses", "inpaint_coverage": 0.6},
        {**GOOD_ROW, "generation_id": "split_trousers", "category": "lower_body", "garment_split": 0.9},
        {**GOOD_ROW, "generation_id": "split_dress", "category": "dresses", "garment_split": 0.9},
        # several faults: the review item leads with the most specific one (the suite's order)
        {
            **GOOD_ROW,
            "generation_id": "many",
            "category": "upper_body",
            "garment_coverage": 0.1,
            "noise_ratio": 9.0,
            "frame_width": 70,
        },
    ]
    outcome = validate_generations(pd.DataFrame(rows))
    assert outcome.failed == {
        "face_lost": ["face_kept"],
        "huge_mask": ["mask_coverage"],
        "split_dress": ["dress_not_split"],
        "many": ["no_refocus_frame", "not_noisy", "garment_covers_body"],
    }
    assert outcome.version == load_config().version == 3


def test_inputs_suite_passes_a_good_drop_and_stops_a_broken_one(ctx, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasks.catalog.library import INDEX_SCHEMA
    from tasks.items import AcceptedItem
    from tasks.qc.inputs import InputsInvalid, validate_inputs

    good = [
        AcceptedItem(sku="TEE-1", garment_id=1, image_key="k", category="upper_body", sha256="a" * 64),
        AcceptedItem(sku="DRESS-2", garment_id=2, image_key="k", category="dresses", sha256="b" * 64),
    ]
    assert validate_inputs(ctx, "2026-11-20", good) == good
    report = ctx.store.get_json("reports/2026-11-20/inputs_validation.json")
    assert [r["suite"] for r in report["suites"]] == ["drop_inputs_items"] and report["suites"][0]["success"]
    # run as GX's users run it: the suite as GX's JSON, a Checkpoint's result in the store, Data Docs
    gx = "reports/2026-11-20/gx/"
    suite = ctx.store.get_json(gx + "expectations/drop_inputs_items.json")
    assert suite["name"] == "drop_inputs_items" and suite["meta"]["tryon_suite_version"] == load_config().version
    assert [e["meta"]["name"] for e in suite["expectations"]] == [
        "unique_skus",
        "category_present",
        "allowed_categories",
        "garment_hashed",
    ]
    assert ctx.store.get_json(gx + "checkpoints/tryon_drop_inputs_items.json")["actions"][0]["type"] == "update_data_docs"

    # GX renders each page in a Jinja environment of its own; the process's templates are compiled
    # once (tasks.qc.data_docs): a second Data Docs build compiles none
    from jinja2 import Environment

    compiled = []
    compile_template = Environment.compile
    broken = [*good, replace(good[0], garment_id=3, category="hats", sha256="not-a-hash")]
    with (
        monkeypatch.context() as patched,
        pytest.raises(
            InputsInvalid, match=r"drop_inputs_items failed unique_skus, allowed_categories, garment_hashed \(rows: TEE-1\)"
        ),
    ):
        patched.setattr(Environment, "compile", lambda env, *a, **k: compiled.append(a) or compile_template(env, *a, **k))
        validate_inputs(ctx, "2026-11-20", broken)
    assert compiled == []
    results = [ctx.store.get_json(k) for k in ctx.store.list_keys(gx + "validations/drop_inputs_items/")]
    assert sorted(r["success"] for r in results) == [False, True], "both runs of the date in the validations store"
    docs = ctx.store.get_bytes(gx + "data_docs/index.html").decode()
    assert docs.count("drop_inputs_items") >= 2 and "Validation Results" in docs
    assert any(k.endswith(".html") for k in ctx.store.list_keys(gx + "data_docs/validations/drop_inputs_items/"))

    # the drop's manifest.csv is read once, by discovery (tasks.drops): a broken one is warnings on
    # the drop and reasons of the SKUs that needed it, never a stopped run
    from tasks.drops import keep_reading, read_drop

    for manifest in (b"sku,category,title\nTEE-1,upper_body,a tee\nTEE-1,dresses,again\n", b"title,category\na tee,upper_body\n"):
        ctx.store.put_bytes("drops/2026-11-20/manifest.csv", manifest)
        keep_reading(ctx, read_drop(ctx, "2026-11-20"))
        assert validate_inputs(ctx, "2026-11-20", good) == good
        warnings = ctx.store.get_json("reports/2026-11-20/inputs_validation.json")["drop_warnings"]
        assert any(w.startswith(("manifest_duplicate_sku", "manifest_unreadable")) for w in warnings), warnings

    row = {name: None for name in INDEX_SCHEMA.names} | {"photo_id": "p1", "sha256": "c" * 64, "state": "ready"}
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist([row, {**row, "state": "maybe"}], schema=INDEX_SCHEMA).drop_columns(["backends"]), buffer)
    ctx.store.put_bytes("library/index.parquet", buffer.getvalue().to_pybytes())
    with pytest.raises(
        InputsInvalid, match="drop_inputs_library_index failed index_schema, unique_photo_ids, known_photo_states"
    ):
        validate_inputs(ctx, "2026-11-20", good)


def test_histograms_draw_every_measurement_and_skip_what_is_not_finite():
    from tasks.qc.histograms import PANELS, metrics_histograms

    rows = [{**GOOD_ROW, "generation_id": f"g{i}", "qc_failed": [] if i else ["body_intact"]} for i in range(3)]
    rows[0]["pose_shift"] = float("inf")  # a body not found at all must not break the report
    png = metrics_histograms(pd.DataFrame(rows), load_config())
    assert png.startswith(b"\x89PNG")
    assert (
        {"old_garment_left", "skin_in_garment", "noise_ratio", "seam_excess", "pose_shift"} <= set(PANELS) <= set(METRIC_COLUMNS)
    )


def test_an_expectation_may_only_name_a_qc_metric(tmp_path):
    """The metric names are listed once (catalog.qc_table); a suite that names another column
    (a typo, a metric renamed) is refused when it is read, not silently never applied."""
    import yaml

    config = yaml.safe_load((REPO / "tasks" / "qc" / "expectations.yaml").read_text())
    config["expectations"].append({"name": "typo", "column": "garment_coverge", "min": 0.5})
    path = tmp_path / "expectations.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="expectation 'typo' names garment_coverge, not a QC metric"):
        load_config(path)
