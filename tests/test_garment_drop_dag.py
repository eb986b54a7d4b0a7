"""The garment_drop DAG, run by Airflow (``dag.test()`` through ``tryon run``) against the
embedded S3 API: a drop with all three categories and four model photos."""

import os
import subprocess

import numpy as np
import pytest

from tasks.cli.common import EXIT_NO_DROP
from tasks.images import decode_mask, decode_rgb
from tasks.ledger import GARMENT_TERMINAL_STATES, Ledger, LookGeneration, RunLease
from tasks.preprocess.masks import decode_pose_map
from tasks.run_lease import acquire
from tasks.storage import ObjectStore
from tests.conftest import GARMENTS, SAMPLES, mark_drop_complete, put_test_releases
from tests.corpus import write_corpus
from tests.forked_cli import python, tryon
from tests.webhook import Webhook

DATE = "2026-11-20"
PHOTOS = ["01008_00.jpg", "049205_0.jpg", "051918_0.jpg", "052472_0.jpg"]
# a run as the scheduler starts it: no CLI before it (no preflight, no lease in its conf)
SCHEDULED_RUN = (
    "from tasks.settings import get_settings; from tasks.airflow_glue.runner import configure_airflow, migrate, run_dag; "
    f"configure_airflow(get_settings()); migrate(); print('state', run_dag('garment_drop', '{DATE}'))"
)
pytestmark = pytest.mark.airflow


def run_env(settings, **extra_env: str) -> dict[str, str]:
    return {
        **os.environ,
        "TRYON_BUCKET": settings.bucket,
        "TRYON_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "TRYON_LEDGER_URL": settings.resolved_ledger_url,
        **extra_env,
    }


def run_tryon(settings, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    """``tryon ARGS`` in a process of its own (forked from the worker's warm one: tests/forked_cli.py)."""
    return tryon(list(args), run_env(settings, **extra_env))


def generation_objects(store: ObjectStore) -> dict[str, tuple[str, str]]:
    objects = {}
    for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix="generations/"):
        for item in page.get("Contents", []):
            objects[item["Key"]] = (item["ETag"], item["LastModified"].isoformat())
    return objects


@pytest.fixture(scope="module")
def drop_run(s3_endpoint, tmp_path_factory):
    """Upload the drop, run the DAG twice, keep what each run left."""
    from tasks.settings import Settings

    tmp = tmp_path_factory.mktemp("dagrun")
    settings = Settings(bucket="dag-run", s3_endpoint_url=s3_endpoint, ledger_url=f"sqlite:///{tmp / 'ledger.db'}")
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket()
    put_test_releases(store)
    for sku, (path, category) in GARMENTS.items():
        store.put_bytes(f"drops/{DATE}/{sku}/front.jpg", path.read_bytes())
        store.put_json(f"drops/{DATE}/{sku}/meta.json", {"category": category})
    broken = SAMPLES / "drop" / "TEE-BROKEN"
    for name in ("front.jpg", "meta.json"):
        store.put_bytes(f"drops/{DATE}/TEE-BROKEN/{name}", (broken / name).read_bytes())
    for photo in PHOTOS:
        store.put_bytes(f"library/photos/{photo}", (SAMPLES / "library" / photo).read_bytes())
    corpus = write_corpus(store, DATE)
    mark_drop_complete(store, DATE)

    library = run_tryon(settings, "library", "build")
    assert library.returncode == 0 and "model_library run state: success" in library.stdout, (
        library.stdout[-3000:] + library.stderr[-3000:]
    )
    assert "this run processed 4, 0 unchanged" in library.stdout
    # (that a build of unchanged photos processes none again is tests/test_stages.py's, without a DAG run)
    scheduled = run_tryon(settings, "library", "build", "--if-changed")
    assert "the photos have not changed since the last build" in scheduled.stdout, "the schedule's run skips an unchanged library"
    # the warp baseline is a preview: its full outfits are made only when asked for
    # the first run in chunks of 8 (the CPU stages mapped over several tasks), the second in one
    # chunk; the first tells a webhook (an Airflow HTTP connection) how the night went
    with Webhook() as hook:
        first = run_tryon(
            settings, "run", "--date", DATE, TRYON_OUTFITS="always", TRYON_CHUNK_SIZE="8", AIRFLOW_CONN_TRYON_NOTIFY=hook.url
        )
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    after_first = {
        "manifest": store.get_bytes(f"storefront/manifests/{DATE}.json"),
        "objects": generation_objects(store),
        "stage_tasks": sorted(k.rsplit("/", 1)[-1] for k in store.list_keys(f"reports/{DATE}/stages/")),
        "notices": hook.received,
        "notice_paths": hook.paths,
    }
    second = run_tryon(settings, "run", "--date", DATE, TRYON_OUTFITS="always")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return settings, store, Ledger(settings.resolved_ledger_url), first, second, after_first, corpus


def test_run_succeeds_and_every_item_is_terminal(drop_run):
    settings, store, ledger, first, _, _, corpus = drop_run
    assert "garment_drop run state: success" in first.stdout
    garments = ledger.garments(DATE)
    assert len(garments) == len(GARMENTS) + 1 + len(corpus)
    terminal = {s.value for s in GARMENT_TERMINAL_STATES}
    assert all(g.state in terminal for g in garments), [(g.sku, g.state) for g in garments]
    broken = next(g for g in garments if g.sku == "TEE-BROKEN")
    assert broken.state == "quarantined" and broken.reason.startswith("corrupt_image")
    categories = {g.category for g in garments if g.state == "flagged"}
    assert categories == {"upper_body", "lower_body", "dresses"}, "every category was generated and waits for review"
    summary = store.get_json(f"reports/{DATE}/summary.json")
    assert sum(summary["garments_by_state"].values()) == summary["inputs"] == len(garments)
    with ledger.session() as session:
        assert session.query(RunLease).count() == 0, "the report released the run's lease"
    html = store.get_bytes(f"reports/{DATE}/report.html").decode()
    with ledger.session() as session:
        outfits = session.query(LookGeneration).filter_by(drop_date=DATE).count()
    assert outfits > 0, "the drop's full outfits were made"
    assert html.count('src="thumbs/') == len(ledger.generations(DATE)) + outfits  # every image, outfits too
    for g in ledger.generations(DATE):  # each thumbnail was written by QC's measure task, beside the report
        assert store.exists(f"reports/{DATE}/thumbs/{g.generation_id}.jpg")
    assert not list(store.list_keys(f"reports/{DATE}/metrics/")), "QC's parts were gathered and removed"
    # the inputs check's and QC's Checkpoints kept their results and Data Docs with the report, which links them
    assert '<a href="gx/data_docs/index.html">' in html
    docs = store.get_bytes(f"reports/{DATE}/gx/data_docs/index.html").decode()
    assert "generation_qc" in docs and "drop_inputs_items" in docs
    assert store.get_json(f"reports/{DATE}/gx/expectations/generation_qc.json")["name"] == "generation_qc"


def test_the_night_tells_the_team_how_it_went(drop_run):
    """At the end of the run the report task sends the night's notice to the webhook: the counts
    of the report's summary, what waits for review and why, and where the report is."""
    _, store, ledger, _, _, after_first, _ = drop_run
    [notice] = after_first["notices"]
    assert after_first["notice_paths"] == ["/hooks/tryon"], "posted to the connection's URL, its path included"
    summary = store.get_json(f"reports/{DATE}/summary.json")
    garments = summary["garments_by_state"]
    assert notice["outcome"] == "finished" and notice["date"] == DATE
    assert (notice["garments"], notice["published"], notice["quarantined"], notice["rejected"], notice["left"]) == (
        summary["inputs"],
        garments.get("published", 0),
        garments.get("quarantined", 0),
        garments.get("rejected", 0),
        0,
    )
    assert notice["waiting_for_review"] == summary["flagged_by_cause"] and sum(notice["waiting_for_review"].values()) > 0
    assert notice["text"].startswith(f"The drop of {DATE} is done. {summary['inputs']} garments: 0 on the storefront")
    assert "wait for review (" in notice["text"] and notice["report"].endswith(f"reports/{DATE}/report.html")


def test_the_cpu_stages_ran_in_chunks_and_a_single_chunk_run_agrees(drop_run):
    """The first run's CPU stages ran as several mapped tasks (chunks of 8 garments or
    generations); the second, in one chunk each, found the same garments and the same images
    (test_second_run_changes_nothing: nothing written again, the same manifest)."""
    _, _, ledger, _, second, after_first, _ = drop_run
    chunks = {
        stage: [name for name in after_first["stage_tasks"] if name.startswith(f"{stage}-")]
        for stage in ("validate", "preprocess_garments", "measure")
    }
    assert len(chunks["validate"]) == len(chunks["preprocess_garments"]) > 1, chunks
    assert len(chunks["measure"]) == -(-len(ledger.generations(DATE)) // 8) > 1, chunks
    assert "keep_originals.json" in after_first["stage_tasks"]
    assert "garment_drop run state: success" in second.stdout
    store = drop_run[1]
    records = {
        stage: store.get_json(f"reports/{DATE}/stages/{stage}-0.json")["details"] for stage in ("validate", "preprocess_garments")
    }
    assert records["preprocess_garments"]["devices"] == "background cpu, embedding cpu", "where its models ran, recorded"
    assert records["validate"]["devices"] == "pose cpu"


def test_a_preview_engine_puts_nothing_in_the_storefront(drop_run):
    """The warp baseline is never a released model: whatever QC says, every generation waits in
    review (QC-passed ones as ``preview``) and the storefront manifest stays empty."""
    settings, store, ledger, _, _, _, _ = drop_run
    assert store.get_json(f"storefront/manifests/{DATE}.json") == {
        "date": DATE,
        "count": 0,
        "items": [],
        "outfits": [],
        "look_files": [],
    }
    assert not [k for k in store.list_keys("storefront/") if not k.startswith("storefront/manifests/")]
    generations = ledger.generations(DATE)
    assert generations and {g.state for g in generations} == {"flagged"}
    for g in generations:
        assert store.exists(f"review/{DATE}/{g.sku}/{g.photo_id}/{g.generation_id}.jpg")
        assert g.reason.startswith(("preview: passed QC", "failed: ")), g.reason
    summary = store.get_json(f"reports/{DATE}/summary.json")
    assert [(m["engine"], m["released"]) for m in summary["models"]] == [("warp-baseline", False)]


def test_generated_images_are_real_try_ons(drop_run):
    settings, store, ledger, _, _, _, _ = drop_run
    for item in [vars(g) | {"key": g.object_key} for g in ledger.generations(DATE)]:
        image = decode_rgb(store.get_bytes(item["key"]))
        assert image.shape == (1024, 768, 3)
        photo = decode_rgb(store.get_bytes(f"library/artifacts/{item['photo_id']}/{item['category']}/image.png"))
        region = decode_mask(store.get_bytes(f"library/artifacts/{item['photo_id']}/{item['category']}/inpaint.png"))
        pose_map = decode_pose_map(store.get_bytes(f"library/artifacts/{item['photo_id']}/{item['category']}/pose_map.npz"))
        assert pose_map.shape == (18, 512, 384) and pose_map.max() == 1.0
        difference = np.abs(image.astype(int) - photo.astype(int)).max(axis=2)
        assert difference[~region].mean() < 2.0, "outside the inpaint region matches the photo (JPEG noise only)"
        assert difference[region].mean() > 15.0, "inside the inpaint region the garment changed the photo"
        sidecar = store.get_json(
            f"generations/{item['model_version']}/{item['sku']}/{item['photo_id']}/{item['generation_id']}.json"
        )
        assert sidecar["engine"] == "warp-baseline" and sidecar["baseline"] is True
        assert sidecar["seed"] == item["seed"] and sidecar["parameters"]["grid_step"] == 8


def test_second_run_changes_nothing(drop_run):
    _, store, ledger, _, second, after_first, _ = drop_run
    assert "garment_drop run state: success" in second.stdout
    assert store.get_bytes(f"storefront/manifests/{DATE}.json") == after_first["manifest"]
    # same keys, same ETags and same LastModified: nothing was written again
    assert generation_objects(store) == after_first["objects"]
    with ledger.session() as session:
        outfits = session.query(LookGeneration).filter_by(drop_date=DATE).count()
    # image + sidecar each, and a full outfit's first pass as well
    assert len(after_first["objects"]) == 2 * len(ledger.generations(DATE)) + 3 * outfits


def test_a_failed_stage_fails_the_run_and_still_accounts_for_every_input(ctx):
    """An engine that cannot be built makes `match` fail: the report still runs, every garment
    ends in a terminal state with the reason, and the run (and the command) fail."""
    settings, store = ctx.settings, ctx.store
    for sku in ("TEE-03032", "JEANS-051946"):
        path, category = GARMENTS[sku]
        store.put_bytes(f"drops/{DATE}/{sku}/front.jpg", path.read_bytes())
        store.put_json(f"drops/{DATE}/{sku}/meta.json", {"category": category})
    mark_drop_complete(store, DATE)
    store.put_bytes("library/photos/049205_0.jpg", (SAMPLES / "library" / "049205_0.jpg").read_bytes())

    result = run_tryon(settings, "run", "--date", DATE, TRYON_ENGINE="no-such-engine", TRYON_TASK_RETRIES="0")

    assert result.returncode == 1 and "garment_drop run state: failed" in result.stdout, result.stdout[-2000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: garment_drop {DATE} stage match failed: ") and "no-such-engine" in last_line, last_line
    garments = ctx.ledger.garments(DATE)
    assert [g.state for g in garments] == ["rejected"] * 2
    assert all(
        g.reason.startswith("pipeline_incomplete: stage match failed: ")
        and "no-such-engine" in g.reason
        and g.reason.endswith("(stopped in state 'preprocessed')")
        for g in garments
    ), [g.reason for g in garments]
    summary = store.get_json(f"reports/{DATE}/summary.json")
    assert summary["garments_by_state"] == {"rejected": 2} and summary["inputs"] == 2
    assert store.get_json(f"storefront/manifests/{DATE}.json")["items"] == []


def test_a_run_of_a_date_another_run_holds_does_nothing(ctx):
    """A run the scheduler starts (no CLI lease in its conf) while another run holds the date
    fails at its first stage without retries: nothing recorded, no report written over the
    other run's, the other run's lease untouched."""
    path, category = GARMENTS["TEE-03032"]
    ctx.store.put_bytes(f"drops/{DATE}/TEE-03032/front.jpg", path.read_bytes())
    ctx.store.put_json(f"drops/{DATE}/TEE-03032/meta.json", {"category": category})
    mark_drop_complete(ctx.store, DATE)
    acquire(ctx.ledger, DATE, "cli:elsewhere:1:abc", 3600)
    result = python(SCHEDULED_RUN, run_env(ctx.settings))
    assert "state failed" in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]
    assert ctx.ledger.garments(DATE) == []
    assert not ctx.store.exists(f"reports/{DATE}/summary.json")
    with ctx.ledger.session() as session:
        assert session.get(RunLease, DATE).holder == "cli:elsewhere:1:abc"


def test_a_run_started_without_the_cli_checks_its_configuration_first_and_never_retries_it(ctx):
    """A run the scheduler starts with a bucket the endpoint does not hold fails at its first
    task, once, naming the setting; nothing else of it runs (no S3 retries times task retries)."""
    import time

    mark_drop_complete(ctx.store, DATE)
    started = time.perf_counter()
    result = python(SCHEDULED_RUN, run_env(ctx.settings, TRYON_BUCKET="no-such-bucket", TRYON_TASK_RETRIES="2"))
    output = result.stdout + result.stderr
    assert "state failed" in result.stdout, output[-4000:]
    assert output.count("the configuration cannot work: S3: no bucket 'no-such-bucket'") >= 1
    assert "set TRYON_BUCKET" in output and time.perf_counter() - started < 60, output[-4000:]
    assert "try_number=2" not in output and "Attempt 2" not in output
    assert ctx.ledger.garments(DATE) == [] and list(ctx.store.list_keys(f"reports/{DATE}/")) == []


def test_a_drop_never_marked_complete_ends_as_no_drop(ctx):
    """Half a drop and no marker: the run waits drop_wait_s for drops/D/_READY (a param of the
    run), then ends clean as "no drop": nothing processed or published, the report and the
    command say so and name the input that waits."""
    date = "2026-11-19"
    path, category = GARMENTS["TEE-03032"]
    ctx.store.put_bytes(f"drops/{date}/TEE-03032/front.jpg", path.read_bytes())
    ctx.store.put_json(f"drops/{date}/TEE-03032/meta.json", {"category": category})
    result = run_tryon(ctx.settings, "run", "--date", date, "--wait", "4", TRYON_DROP_POKE_S="0.5")
    assert result.returncode == EXIT_NO_DROP and "garment_drop run state: success" in result.stdout, (
        result.stdout[-2000:] + result.stderr[-2000:]
    )
    assert f"drop {date} is not marked complete (drops/{date}/_READY is not there): waiting up to 4 s" in result.stdout
    assert f"no drop: drops/{date}/_READY did not appear within 4 s (1 input(s) of an unfinished upload waiting)" in result.stdout
    summary = ctx.store.get_json(f"reports/{date}/summary.json")
    assert summary["drop"] | {"waited_s": None} == {
        "marker": f"drops/{date}/_READY",
        "marked_complete": False,
        "outcome": "no_drop",
        "processed": False,
        "wait_s": 4,
        "waited_s": None,
        "waiting": ["TEE-03032"],
        "warnings": [],  # nothing was read: discovery never ran
    }
    assert 4 <= summary["drop"]["waited_s"] < 60
    assert summary["inputs"] == 0 and ctx.ledger.garments(date) == [] and summary["failed_stages"] == []
    assert ctx.store.get_json(f"storefront/manifests/{date}.json") == {
        "date": date,
        "count": 0,
        "items": [],
        "outfits": [],
        "look_files": [],
    }
    html = ctx.store.get_bytes(f"reports/{date}/report.html").decode()
    assert "No drop: the catalogue team's marker" in html and "TEE-03032" in html
    # the UI shows when the CLI's run really started, not its logical date (dag.test's start)
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with engine.connect() as airflow_db:
        started = airflow_db.execute(
            text("SELECT start_date FROM dag_run WHERE dag_id = 'garment_drop' AND logical_date LIKE :day ORDER BY id DESC"),
            {"day": f"{date}%"},
        ).scalar()
    engine.dispose()
    assert str(started)[:10] == datetime.now(UTC).date().isoformat(), started


def test_every_intake_case_ends_in_its_state_with_its_reason(drop_run):
    _, store, ledger, _, _, _, corpus = drop_run
    garments = {("unsafe" if g.sku.startswith("unsafe-") else g.sku): g for g in ledger.garments(DATE)}
    for sku, expected in corpus.items():
        garment = garments[sku]
        states = expected.state if isinstance(expected.state, tuple) else (expected.state,)
        assert garment.state in states, (sku, garment.state, garment.reason)
        if expected.reason:
            assert garment.reason.startswith(expected.reason), (sku, garment.reason)
        if garment.state == "quarantined":
            assert store.get_json(f"quarantine/{DATE}/{sku}/reason.json")["reason"] == garment.reason
        if "published" in states:
            assert garment.meta["intake_notes"] == expected.notes, sku
            assert any(g.sku == sku for g in ledger.generations(DATE)), f"{sku} was not generated"
    assert garments["MULTI-IMAGE"].meta["extra_images"] == [f"drops/{DATE}/MULTI-IMAGE/zz-back.jpg"]
    assert not any(g.sku == "TEE-00055-COPY" for g in ledger.generations(DATE)), "a duplicate is not generated twice"
    # the report lists every case with its reason
    summary = store.get_json(f"reports/{DATE}/summary.json")
    listed = {g["sku"]: g for g in summary["garments"]}
    html = store.get_bytes(f"reports/{DATE}/report.html").decode()
    for sku, garment in garments.items():
        assert listed[garment.sku]["state"] == garment.state and garment.sku in html
