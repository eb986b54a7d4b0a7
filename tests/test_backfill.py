"""tryon backfill over two drop dates and one without a drop: two manifests (empty: the warp baseline is a preview,
its images wait for review); again, nothing changes; a new model version without an evaluation is
refused, then forced with a reason (recorded): generations are added beside the old ones and an
approved image stays."""

import pytest
from sqlalchemy import select

from tasks.cli.common import EXIT_NO_DROP
from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.ledger import BackfillDecision
from tasks.review.decisions import approve
from tasks.settings import Settings
from tests.conftest import prepare_drops
from tests.test_garment_drop_dag import generation_objects, run_tryon

pytestmark = pytest.mark.airflow
DATES = {"2026-10-01": "TEE-03032", "2026-10-02": "DRESS-052234"}  # a range of dates: two prove it as well as ten


def test_backfill_a_range_of_dates_then_again_then_a_new_model_version(s3_endpoint, tmp_path):
    settings = Settings(
        home=tmp_path / "home",
        bucket="backfill",
        s3_endpoint_url=s3_endpoint,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        photos_per_garment=1,
    )
    ctx = prepare_drops(settings, {date: (sku,) for date, sku in DATES.items()}, ("05997_00.jpg", "051918_0.jpg", "052472_0.jpg"))
    env = {"TRYON_PHOTOS_PER_GARMENT": "1"}

    # and a date without a drop: an outcome of its own, in the table and the exit status
    first = run_tryon(settings, "backfill", "--from", "2026-10-01", "--to", "2026-10-03", **env)
    assert first.returncode == EXIT_NO_DROP, first.stdout[-3000:] + first.stderr[-3000:]
    assert [line for line in first.stdout.splitlines() if line.startswith("2026-10-0")] == [
        "2026-10-01: success",
        "2026-10-02: success",
        "2026-10-03: no_drop: nothing is under drops/2026-10-03/ and drops/2026-10-03/_READY is not there",
    ]
    empty = ctx.store.get_json("reports/2026-10-03/summary.json")
    assert (empty["drop"]["outcome"], empty["drop"]["processed"], empty["inputs"]) == ("no_drop", False, 0)
    assert "No drop: nothing is under" in ctx.store.get_bytes("reports/2026-10-03/report.html").decode()
    manifests = {d: ctx.store.get_json(f"storefront/manifests/{d}.json") for d in DATES}
    assert all(m["count"] == 0 for m in manifests.values()), "a preview engine publishes nothing by itself"
    assert all([g.state for g in ctx.ledger.generations(d)] == ["flagged"] for d in DATES)
    before = generation_objects(ctx.store)

    again = run_tryon(settings, "backfill", "--from", "2026-10-01", "--to", "2026-10-02", **env)
    assert again.returncode == 0 and again.stdout.count("skipped (done") == len(DATES), again.stdout[-2000:]
    assert generation_objects(ctx.store) == before

    # a reviewer approved the first date's image
    [old] = ctx.ledger.generations("2026-10-01")
    approved_key = approve(ctx, old.generation_id, "alice")
    approved_bytes = ctx.store.get_bytes(approved_key)
    before = generation_objects(ctx.store)  # with the approved image's credentialed copy beside it

    registry = save_published_layout(random_components(SMALL, seed=4), tmp_path / "weights", SMALL)
    args = (
        "backfill",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-02",
        "--model-version",
        "ladi-vton",
        "--set",
        "inference_steps=2",
    )
    refused = run_tryon(settings, *args, TRYON_MODEL_REGISTRY=str(registry), **env)
    assert (
        refused.returncode == 2
        and "refusing to backfill with ladi-vton-vitonhd-random-weights: no evaluation holds both" in refused.stderr
    )
    assert generation_objects(ctx.store) == before, "a refused backfill generates nothing"
    newer = run_tryon(
        settings,
        *args,
        "--force",
        "--reason",
        "trying the pipeline with random weights",
        "--operator",
        "dana",
        TRYON_MODEL_REGISTRY=str(registry),
        **env,
    )
    assert newer.returncode == 0, newer.stdout[-3000:] + newer.stderr[-3000:]
    with ctx.ledger.session() as session:
        [decision] = session.scalars(select(BackfillDecision)).all()
    assert (decision.decision, decision.operator, decision.model_version, decision.current_model_version) == (
        "forced",
        "dana",
        "ladi-vton-vitonhd-random-weights",
        "warp-baseline-1.0.0",
    )
    assert decision.reason.startswith("trying the pipeline with random weights (the evaluation said: no evaluation holds both")
    after = generation_objects(ctx.store)
    assert {k: v for k, v in after.items() if k in before} == before, "old outputs untouched"
    added = [k for k in after if k not in before]
    assert len(added) == 2 * len(DATES) and all(k.startswith("generations/ladi-vton-vitonhd-random-weights/") for k in added)
    assert ctx.store.get_bytes(approved_key) == approved_bytes, "the approved image is still in the storefront"
    manifest = ctx.store.get_json("storefront/manifests/2026-10-01.json")
    assert old.generation_id in {i["generation_id"] for i in manifest["items"]}
    for date in DATES:
        engines = {g.engine for g in ctx.ledger.generations(date)}
        assert engines == {"warp-baseline", "ladi-vton"}, date
