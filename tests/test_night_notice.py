"""The night's notice (tasks/night_notice.py) from the ledger's states, and when the night's
deadline falls (tasks/airflow_glue/notices.py). Sending it through Airflow is tested by the
DAG runs: the finished notice in test_garment_drop_dag.py, the late one, fired by a deadline
alert the scheduler evaluates, in test_celery_cluster.py."""

from datetime import UTC, datetime

from tasks.airflow_glue.notices import night_deadline
from tasks.intake import discover
from tasks.items import set_garment_state
from tasks.ledger import GarmentState, ModelPhoto
from tasks.night_notice import LATE, NO_DROP, night_notice
from tasks.settings import Settings
from tasks.stage_times import timed_stage
from tests.conftest import GARMENTS, generation_row

DATE = "2026-11-20"


def test_a_late_notice_says_what_is_done_and_what_is_left(ctx):
    for sku in ("TEE-03032", "JEANS-051946", "DRESS-052234", "CAMI-048769"):
        path, category = GARMENTS[sku]
        ctx.store.put_bytes(f"drops/{DATE}/{sku}/front.jpg", path.read_bytes())
        ctx.store.put_json(f"drops/{DATE}/{sku}/meta.json", {"category": category})
    with timed_stage(ctx, DATE, "check_model_version"), timed_stage(ctx, DATE, "discover"):
        garments = {item.sku: item for item in discover(ctx, DATE)}
    set_garment_state(ctx, garments["TEE-03032"].garment_id, GarmentState.PUBLISHED)
    set_garment_state(ctx, garments["CAMI-048769"].garment_id, GarmentState.QUARANTINED, "corrupt_image: truncated")
    set_garment_state(ctx, garments["JEANS-051946"].garment_id, GarmentState.FLAGGED)
    [jeans] = [g for g in ctx.ledger.garments(DATE) if g.sku == "JEANS-051946"]
    with ctx.ledger.session() as session:
        session.add(ModelPhoto(photo_id="049205_0", sha256="b" * 64, source_key="library/photos/049205_0.jpg", state="ready"))
    with ctx.ledger.session() as session:
        for gid, reason in (("g1", "preview: passed QC"), ("g2", "failed: not_blank"), ("g3", "failed: not_noisy")):
            row = generation_row(jeans, "049205_0", gid, f"generations/{gid}.jpg", "flagged")
            row.reason = reason
            session.add(row)
    with timed_stage(ctx, DATE, "tryon", 0):  # still running when the notice is made
        notice = night_notice(ctx, DATE, LATE)
    assert (notice.garments, notice.published, notice.quarantined, notice.left) == (4, 1, 1, 1)
    assert notice.waiting_for_review == {"preview": 1, "failed_qc": 2}
    assert (notice.stages_done, notice.stages_running) == (["check_model_version", "discover"], ["tryon"])
    assert notice.text.splitlines() == [
        f"The drop of {DATE} is LATE: still running at the deadline. 4 garments: 1 on the storefront, "
        "1 quarantined, 0 rejected, 1 not finished yet.",
        "3 image(s) wait for review (2 failed_qc, 1 preview).",
        "Done: check_model_version, discover. Running: tryon.",
        f"Report: s3://{ctx.store.bucket}/reports/{DATE}/report.html",
    ]
    assert night_notice(ctx, "2026-11-21", NO_DROP).text.startswith("No drop arrived for 2026-11-21")


def test_the_deadline_is_the_morning_after_the_drop_on_the_teams_clock():
    berlin = Settings(night_deadline="06:00", team_timezone="Europe/Berlin")
    assert night_deadline(berlin, "2026-11-20") == datetime(2026, 11, 21, 5, 0, tzinfo=UTC)  # CET, UTC+1
    assert night_deadline(berlin, "2026-07-20") == datetime(2026, 7, 21, 4, 0, tzinfo=UTC)  # CEST, UTC+2
    assert night_deadline(Settings(), "2026-11-20") is None
