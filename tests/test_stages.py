"""The stages of garment_drop called as plain functions (no Airflow), on a real S3 API."""

import dataclasses
import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from tasks.catalog import library as catalog_library
from tasks.catalog.library_build import PhotoCounts
from tasks.catalog.plans import generation_id
from tasks.images import decode_rgb
from tasks.inference import tryon_stage
from tasks.inference.shard import Shard
from tasks.inference.warp_baseline import WarpBaselineEngine
from tasks.intake import discover, validate
from tasks.items import chunked, set_garment_state
from tasks.ledger import GarmentState, Generation
from tasks.match import match
from tasks.preprocess import library_stage
from tasks.preprocess.garment_stage import keep_originals, prepare_garments, preprocess_garments
from tasks.publish import publish
from tasks.qc.stage import check_generations, measure_chunk
from tasks.report import write_report
from tests.conftest import GARMENTS, SAMPLES, plan_drop

DATE = "2026-11-20"


@pytest.fixture
def planned(ctx):
    """A drop of one top and one pair of jeans, two model photos, matched with k=2."""
    return plan_drop(ctx, DATE, ("TEE-03032", "JEANS-051946"), ("05997_00.jpg", "051918_0.jpg", "049205_0.jpg"))


def test_stages_in_order(ctx, planned):
    items, counts, shards = planned
    assert counts == PhotoCounts(photos=3, processed=3, cached=0, refused=0, ready=3, rejected=0)
    suitable = {row.photo_id: sorted(c for c, ok in row.suitable.items() if ok) for row in catalog_library.read_index(ctx)}
    assert suitable == {
        "049205_0": ["lower_body", "upper_body"],
        "051918_0": ["lower_body", "upper_body"],
        "05997_00": ["upper_body"],
    }
    index = pq.read_table(io.BytesIO(ctx.store.get_bytes("library/index.parquet")))
    assert index.num_rows == 3 and len(index.column("keypoints")[0]) == 54
    assert (
        len(shards) == 1 and len(shards[0].generation_ids) == 4
    )  # 2 garments x k=2: one shard, one batch per (category, cluster)
    assert {g.state for g in ctx.ledger.garments(DATE)} == {"matched"}

    result = tryon_stage.run_shard(ctx, shards[0])
    assert (result.generated, result.failed, result.batches) == (4, 0, len(shards[0].batches))
    counts = check_generations(ctx, DATE)
    assert counts["passed"] + counts["flagged"] == 4 and counts["flagged"] >= 3, (
        counts
    )  # the baseline's images are not publishable
    assert counts["measured_here"] == 4
    single = (
        {g.generation_id: (g.state, g.reason) for g in ctx.ledger.generations(DATE)},
        pd.read_parquet(io.BytesIO(ctx.store.get_bytes(f"reports/{DATE}/metrics.parquet"))),
    )
    # a verdict by this suite on an unchanged image stands: a second QC measures nothing
    again = check_generations(ctx, DATE)
    assert (again["measured_here"], again["passed"] + again["flagged"]) == (0, 0)
    assert {g.generation_id: (g.state, g.reason) for g in ctx.ledger.generations(DATE)} == single[0]
    # mapped QC: the shard's generations measured in two parts, the suite over the gathered table,
    # gives the single task's verdicts and table
    with ctx.ledger.session() as session:
        session.execute(update(Generation).where(Generation.drop_date == DATE).values(state="generated", reason=None))
    ids = shards[0].generation_ids
    assert measure_chunk(ctx, DATE, ids[:1], 0, "run-1") == {"measured": 1, "kept": 0}
    assert measure_chunk(ctx, DATE, ids[1:], 1, "run-1") == {"measured": 3, "kept": 0}
    # a chunk run again (its task retried after its part was written) measures nothing again
    assert measure_chunk(ctx, DATE, ids[1:], 1, "run-1") == {"measured": 0, "kept": 3}
    ctx.store.put_bytes(f"reports/{DATE}/metrics/stale/part-00000.parquet", b"a dead run's part: never read")
    mapped = check_generations(ctx, DATE, "run-1")
    assert (mapped["measured_in_shards"], mapped["measured_here"]) == (4, 0)
    assert {g.generation_id: (g.state, g.reason) for g in ctx.ledger.generations(DATE)} == single[0]
    table = pd.read_parquet(io.BytesIO(ctx.store.get_bytes(f"reports/{DATE}/metrics.parquet")))
    pd.testing.assert_frame_equal(
        table.sort_values("generation_id", ignore_index=True), single[1].sort_values("generation_id", ignore_index=True)
    )
    assert not list(ctx.store.list_keys(f"reports/{DATE}/metrics/")), "the parts are removed once gathered"
    # and the warp baseline is a preview: even what passed QC waits for a reviewer, nothing reaches the storefront
    assert publish(ctx, DATE).published == 0
    generations = ctx.ledger.generations(DATE)
    assert {g.state for g in generations} == {"flagged"}
    for g in generations:
        assert g.reason.startswith(("failed: ", "preview: passed QC, but warp-baseline is a geometric CPU baseline")), g.reason
    assert ctx.store.get_json(f"storefront/manifests/{DATE}.json")["items"] == []
    assert not list(ctx.store.list_keys("storefront/TEE-03032/"))
    report = write_report(ctx, DATE)
    assert report.garments_by_state == {"flagged": 2} and report.inputs == 2
    summary = ctx.store.get_json(f"reports/{DATE}/summary.json")
    assert [(m["model_version"], m["released"], m["generations"]) for m in summary["models"]] == [
        ("warp-baseline-1.0.0", False, 4)
    ]
    html = ctx.store.get_bytes(f"reports/{DATE}/report.html").decode()
    assert "a preview, not a released model" in html and "warp-baseline-1.0.0" in html
    assert html.count('src="thumbs/') == 4 and ctx.store.exists(f"reports/{DATE}/qc-histograms.png")


def test_a_large_report_is_paged_with_its_images_as_files(ctx, planned, monkeypatch):
    """The report shows the summary and a first page; the other pages link back and forth, and
    every thumbnail it names is a file beside it (made by QC, or by the report when QC left none)."""
    from tasks import report as report_module

    tryon_stage.run_shard(ctx, planned[2][0])
    check_generations(ctx, DATE)
    ctx.store.delete(
        f"reports/{DATE}/thumbs/{planned[2][0].generation_ids[0]}.jpg"
    )  # an image measured before thumbnails were kept
    monkeypatch.setattr(report_module, "PAGE_THUMBNAILS", 3)
    monkeypatch.setattr(report_module, "PAGE_ROWS", 1)
    publish(ctx, DATE)
    write_report(ctx, DATE)
    html = ctx.store.get_bytes(f"reports/{DATE}/report.html").decode()
    assert html.index("Counts") < html.index("Generations") < html.index("Every garment"), "the summary first"
    assert html.count('src="thumbs/') == 3 and 'href="generations-0002.html"' in html and 'href="garments-0002.html"' in html
    second = ctx.store.get_bytes(f"reports/{DATE}/generations-0002.html").decode()
    assert second.count('src="thumbs/') == 1 and 'href="report.html"' in second and "page 2 of 2" in second
    assert ctx.store.get_bytes(f"reports/{DATE}/garments-0002.html").decode().count('<td class="state-') == 1
    assert not ctx.store.exists(f"reports/{DATE}/generations-0003.html")
    for gid in planned[2][0].generation_ids:
        assert decode_rgb(ctx.store.get_bytes(f"reports/{DATE}/thumbs/{gid}.jpg")).shape[0] == 192


def test_report_holds_the_ledger_against_the_drop_listing(ctx, planned):
    """A file beside the SKU folders is an input too: recorded and quarantined, never skipped; an
    object that arrives after discovery makes the report refuse to claim the drop adds up."""
    ctx.store.put_bytes(f"drops/{DATE}/stray.jpg", (SAMPLES / "library" / "05997_00.jpg").read_bytes())
    discover(ctx, DATE)
    stray = {g.sku: g for g in ctx.ledger.garments(DATE)}["stray.jpg"]
    assert stray.state == "quarantined" and stray.reason.startswith("outside_sku_folder")
    assert ctx.store.get_json(f"quarantine/{DATE}/stray.jpg/reason.json")["files"] == [f"drops/{DATE}/stray.jpg"]
    for garment in ctx.ledger.garments(DATE):
        if garment.state != "quarantined":
            set_garment_state(ctx, garment.id, GarmentState.REJECTED, "test")
    assert write_report(ctx, DATE).inputs == 3
    ctx.store.put_json(f"drops/{DATE}/LATE-0001/meta.json", {"category": "upper_body"})
    with pytest.raises(AssertionError, match="the drop lists 4 inputs, the ledger records 3; never recorded: LATE-0001"):
        write_report(ctx, DATE)


def test_a_sample_that_breaks_the_engine_fails_alone(ctx, planned, monkeypatch):
    shard = Shard(0, [[gid for s in planned[2] for gid in s.generation_ids]])
    bad = shard.generation_ids[1]

    class Flaky(WarpBaselineEngine):
        def generate(self, samples):
            if any(s.generation_id == bad for s in samples):
                raise RuntimeError("CUDA error: device-side assert")
            return super().generate(samples)

    monkeypatch.setattr(tryon_stage, "get_engine", lambda settings: Flaky())
    result = tryon_stage.run_shard(ctx, shard)
    assert (result.generated, result.existing, result.failed) == (3, 0, 1)
    assert result.engine_loads == 0 and result.load_seconds == 0, "the warp baseline has no weights to load"
    states = {g.generation_id: (g.state, g.reason) for g in ctx.ledger.generations(DATE)}
    assert states[bad] == ("failed", "engine_error: CUDA error: device-side assert")
    assert sum(state == "generated" for state, _ in states.values()) == 3

    # the next run retries the failed one (with a healthy engine) and leaves the rest alone
    monkeypatch.undo()
    again = match(ctx, DATE, planned[0])
    assert sorted(gid for s in again for gid in s.generation_ids) == sorted(shard.generation_ids)
    result = tryon_stage.run_shard(ctx, again[0])
    assert (result.generated, result.existing, result.failed) == (1, 3, 0)


def test_model_photos_are_processed_once_per_content(ctx, planned, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("an unchanged photo was processed again")

    monkeypatch.setattr(library_stage, "prepare_model_photo", must_not_run)
    assert library_stage.preprocess_model_photos(ctx) == PhotoCounts(
        photos=3, processed=0, cached=3, refused=0, ready=3, rejected=0
    )
    # a photo whose name cannot be an id is refused (rejected, never processed), not counted unchanged
    ctx.store.put_bytes("library/photos/bad name!.jpg", (SAMPLES / "library" / "01008_00.jpg").read_bytes())
    counts = library_stage.preprocess_model_photos(ctx)
    assert counts == PhotoCounts(photos=4, processed=0, cached=3, refused=1, ready=3, rejected=1)
    summary = library_stage.build_index(ctx, [counts])
    assert (summary.processed, summary.unchanged, summary.refused, summary.rejected) == (0, 3, 1, 1)
    # said in words: the rejected photo is counted as rejected, not as "0 refused"
    assert "4 photos, 3 ready, 1 rejected (1 of them for a name that cannot be a photo id)" in library_stage.describe_build(
        summary
    )
    three_rejected = dataclasses.replace(summary, photos=7, ready=4, rejected=3, refused=0)
    assert "7 photos, 4 ready, 3 rejected (the reasons below)" in library_stage.describe_build(three_rejected)
    # new bytes under the same id are processed again
    ctx.store.put_bytes("library/photos/05997_00.jpg", (SAMPLES / "library" / "01008_00.jpg").read_bytes())
    with pytest.raises(AssertionError, match="processed again"):
        library_stage.preprocess_model_photos(ctx)


def test_generation_ids_change_with_every_input():
    base = dict(
        garment_sha256="a" * 64, photo_id="p", engine="e", model_version="v", weights_sha256="w", parameters={"x": 1}, seed=0
    )
    reference = generation_id(**base)
    assert generation_id(**base) == reference and len(reference) == 32
    for key, value in [
        ("garment_sha256", "b" * 64),
        ("photo_id", "q"),
        ("engine", "f"),
        ("model_version", "v2"),
        ("weights_sha256", "w2"),
        ("parameters", {"x": 2}),
        ("seed", 1),
    ]:
        assert generation_id(**{**base, key: value}) != reference, key


def test_a_garment_with_no_suitable_photo_is_rejected_with_the_reason(ctx):
    path, _ = GARMENTS["DRESS-052234"]
    ctx.store.put_bytes(f"drops/{DATE}/DRESS-1/front.jpg", path.read_bytes())
    ctx.store.put_json(f"drops/{DATE}/DRESS-1/meta.json", {"category": "dresses"})
    ctx.store.put_bytes("library/photos/05997_00.jpg", (SAMPLES / "library" / "05997_00.jpg").read_bytes())
    items = preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE)))
    library_stage.preprocess_model_photos(ctx)
    library_stage.build_index(ctx)
    assert match(ctx, DATE, items) == []
    [garment] = ctx.ledger.garments(DATE)
    assert (garment.state, garment.reason) == ("rejected", "no_model_photo: none suits dresses")


def test_matching_without_a_library_rejects_with_the_way_out(ctx):
    path, category = GARMENTS["TEE-03032"]
    ctx.store.put_bytes(f"drops/{DATE}/TEE-1/front.jpg", path.read_bytes())
    ctx.store.put_json(f"drops/{DATE}/TEE-1/meta.json", {"category": category})
    items = preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE)))
    assert match(ctx, DATE, items) == []
    [garment] = ctx.ledger.garments(DATE)
    assert garment.state == "rejected" and "tryon library build" in garment.reason


def test_a_garment_from_an_earlier_drop_is_a_duplicate_but_a_rerun_is_not(ctx):
    path, category = GARMENTS["TEE-00055"]
    for date, sku in (("2026-11-19", "TEE-OLD"), ("2026-11-20", "TEE-RESHOOT")):
        ctx.store.put_bytes(f"drops/{date}/{sku}/front.jpg", path.read_bytes())
        ctx.store.put_json(f"drops/{date}/{sku}/meta.json", {"category": category})
    first = preprocess_garments(ctx, "2026-11-19", validate(ctx, "2026-11-19", discover(ctx, "2026-11-19")))
    assert [i.sku for i in first] == ["TEE-OLD"]
    # not generated yet (no library): a copy the next night is not blocked by it
    assert [i.sku for i in preprocess_garments(ctx, "2026-11-20", validate(ctx, "2026-11-20", discover(ctx, "2026-11-20")))] == [
        "TEE-RESHOOT"
    ]
    set_garment_state(ctx, first[0].garment_id, GarmentState.PUBLISHED)  # the night went on to publish it
    assert preprocess_garments(ctx, "2026-11-20", validate(ctx, "2026-11-20", discover(ctx, "2026-11-20"))) == []
    [reshoot] = ctx.ledger.garments("2026-11-20")
    assert (reshoot.state, reshoot.reason) == ("rejected", "duplicate_of: TEE-OLD (2026-11-19)")
    assert reshoot.meta["duplicate_of"] == {"sku": "TEE-OLD", "drop_date": "2026-11-19"}
    # re-running the first date finds no earlier copy of its own garment
    again = preprocess_garments(ctx, "2026-11-19", validate(ctx, "2026-11-19", discover(ctx, "2026-11-19")))
    assert [i.sku for i in again] == ["TEE-OLD"]


def test_garments_prepared_in_chunks_match_one_pass_and_a_killed_chunk_resumes(ctx, monkeypatch):
    """The DAG prepares a drop's garments as mapped chunks and gathers them once (keep_originals):
    the same states and kept items as one pass, a copy in another chunk than its original still a
    duplicate, and a chunk killed part-way resumes without cutting again what it had finished."""
    from tasks.preprocess import garment_stage

    drop = {"A-TEE": "TEE-00055", "B-JEANS": "JEANS-051946", "C-DRESS": "DRESS-052234", "D-COPY": "TEE-00055"}
    for date in ("2026-11-19", DATE):
        for sku, fixture in drop.items():
            path, category = GARMENTS[fixture]
            ctx.store.put_bytes(f"drops/{date}/{sku}/front.jpg", path.read_bytes())
            ctx.store.put_json(f"drops/{date}/{sku}/meta.json", {"category": category})

    chunks = chunked(validate(ctx, DATE, discover(ctx, DATE)), 2)
    assert [[i.sku for i in chunk] for chunk in chunks] == [["A-TEE", "B-JEANS"], ["C-DRESS", "D-COPY"]]
    real, cut = garment_stage.prepare_garment, []

    def killed_after_one(image, masker):
        if cut:
            raise SystemExit("the worker was killed")
        cut.append(image.shape)
        return real(image, masker)

    monkeypatch.setattr(garment_stage, "prepare_garment", killed_after_one)

    def on_threads(count):
        return type(ctx)(settings=ctx.settings.model_copy(update={"cpu_threads": count}), store=ctx.store, ledger=ctx.ledger)

    with pytest.raises(SystemExit):  # on one thread, so that the kill comes after the first cut
        prepare_garments(on_threads(1), DATE, chunks[1])
    monkeypatch.setattr(garment_stage, "prepare_garment", lambda image, masker: cut.append(image.shape) or real(image, masker))
    prepared = [prepare_garments(on_threads(2), DATE, chunk) for chunk in reversed(chunks)]  # in any order, on threads
    assert len(cut) == 3, "each content was cut once (the copy is the tee's bytes): the killed chunk's first not again"
    kept = keep_originals(ctx, DATE, [item for chunk in prepared for item in chunk])
    one_pass = preprocess_garments(ctx, "2026-11-19", validate(ctx, "2026-11-19", discover(ctx, "2026-11-19")))

    def outcome(date):
        return {g.sku: (g.state, g.reason.replace(date, "its date") if g.reason else None) for g in ctx.ledger.garments(date)}

    assert [i.sku for i in kept] == [i.sku for i in one_pass] == ["A-TEE", "B-JEANS", "C-DRESS"]
    assert outcome(DATE) == outcome("2026-11-19")
    assert outcome(DATE)["D-COPY"] == ("rejected", "duplicate_of: A-TEE (its date)")


def test_a_rerun_of_an_unchanged_drop_reads_no_garment_artifact(ctx, monkeypatch):
    """What preprocessing made is recorded with the garment for its sha256 and backends: a
    re-run reads none of it back; another cut-out backend prepares the garment again."""
    from tasks.preprocess import garment_stage

    path, category = GARMENTS["TEE-00055"]
    ctx.store.put_bytes(f"drops/{DATE}/TEE/front.jpg", path.read_bytes())
    ctx.store.put_json(f"drops/{DATE}/TEE/meta.json", {"category": category})
    first = preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE)))
    phash = ctx.ledger.garments(DATE)[0].meta["phash"]

    read: list[str] = []
    for name in ("get_bytes", "get_json_or_none"):
        real = getattr(ctx.store, name)
        monkeypatch.setattr(ctx.store, name, lambda key, real=real: read.append(key) or real(key))
    assert preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE))) == first
    assert [key for key in read if key.startswith("garments/")] == []
    assert ctx.ledger.garments(DATE)[0].meta["phash"] == phash and ctx.ledger.garments(DATE)[0].state == "preprocessed"

    masker = garment_stage.background_backend(ctx.settings)

    class OtherCut:
        backend = "another-cut"

        def __call__(self, image):
            return masker(image)

    monkeypatch.setattr(garment_stage, "background_backend", lambda settings: OtherCut())
    assert preprocess_garments(ctx, DATE, validate(ctx, DATE, discover(ctx, DATE))) == first
    assert any(key.startswith("garments/") for key in read)


def test_a_ledger_pointed_at_another_bucket_prepares_the_garments_there(ctx):
    """What preprocessing recorded names the bucket its artifacts are in: the same ledger used
    with another bucket (a restore, a test's second store) makes them there instead of trusting
    artifacts that bucket does not hold."""
    from tasks.context import RunContext
    from tasks.storage import ObjectStore, garment_artifact_key

    path, category = GARMENTS["TEE-00055"]
    other = RunContext(
        settings=ctx.settings.model_copy(update={"bucket": ctx.settings.bucket + "-b"}),
        store=ObjectStore.from_settings(ctx.settings.model_copy(update={"bucket": ctx.settings.bucket + "-b"})),
        ledger=ctx.ledger,
    )
    other.store.ensure_bucket()
    for run in (ctx, other):
        run.store.put_bytes(f"drops/{DATE}/TEE/front.jpg", path.read_bytes())
        run.store.put_json(f"drops/{DATE}/TEE/meta.json", {"category": category})
        [item] = preprocess_garments(run, DATE, validate(run, DATE, discover(run, DATE)))
        assert run.store.exists(garment_artifact_key(item.sha256, "meta.json"))
