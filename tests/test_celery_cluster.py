"""garment_drop under Airflow's CeleryExecutor on this machine: the scheduler, api-server,
dag-processor and triggerer, and two Celery workers on loopback (one on queue ``gpu``, one on ``default``),
against the machine's PostgreSQL (metadata database and ledger) and Redis (broker), generating
with LaDI-VTON (the small configuration, random weights in the published layout, one generation
per batch). The night's drop is half uploaded when the run starts: the run waits, deferred (its
sensor holds no worker slot, nothing is processed), until the rest and the drop's marker are
uploaded, then takes every garment. Try-on tasks must run on the gpu worker and in pool gpu, everything else elsewhere.
Each try-on shard is a process of its own that loads the weights once for all of its batches.
The nightly shard is killed (SIGKILL) mid-way: Airflow retries it and the retry generates only
what was not stored, leaving every stored object as it was. The storefront manifest must equal
the one an embedded (dag.test) run makes of the same inputs. Then ``tryon backfill --scheduler``
over an earlier date becomes an Airflow backfill that the same scheduler and workers run to
success, with its manifest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from tasks.inference.ladi_vton.components import SMALL, random_components, save_published_layout
from tasks.settings import Settings
from tasks.storage import ObjectStore, report_key
from tests.cluster import Cluster, celery_env, free_port, libpq_url
from tests.conftest import prepare_drops, upload_drop
from tests.test_garment_drop_dag import generation_objects, run_tryon
from tests.webhook import Webhook

pytestmark = [pytest.mark.airflow, pytest.mark.cluster, pytest.mark.postgres]
SKUS = ("TEE-03032", "JEANS-051946", "DRESS-052234")
PHOTOS = ("05997_00.jpg", "051918_0.jpg", "052472_0.jpg")
REDIS_DB = 11


def _started_shard(store: ObjectStore, date: str) -> dict:
    """The record of the date's first try-on shard to start (its process id), as soon as it exists."""
    deadline = time.time() + 300
    while time.time() < deadline:
        for key in store.list_keys(report_key(date, "stages/tryon-")):
            record = store.get_json(key)
            if record["ok"] is None:
                return record
        time.sleep(0.2)
    raise AssertionError("no try-on shard started")


def _kill_midway(store: ObjectStore, ledger: str, date: str) -> tuple[dict, dict, int]:
    """SIGKILL the running shard's process once it has stored a generation and before it has
    stored them all (stopped first, so it cannot finish while the test looks). Returns its start
    record, the generation objects stored at the kill, and the generations planned."""
    shard = _started_shard(store, date)
    deadline = time.time() + 300
    with psycopg2.connect(ledger) as conn:
        conn.autocommit = True
        while True:
            assert time.time() < deadline, "the shard stored no generation"
            with conn.cursor() as cur:
                cur.execute(
                    "select count(*) filter (where state = 'generated'), count(*) from generations where drop_date = %s", (date,)
                )
                stored, planned = cur.fetchone()
            if stored:
                os.kill(shard["pid"], signal.SIGSTOP)
                break
            time.sleep(0.1)
    objects = generation_objects(store)
    images = [key for key in objects if key.endswith(".jpg")]
    assert 0 < len(images) < planned, f"not mid-way: {len(images)} of {planned} generations stored"
    kept = {key: value for key, value in objects.items() if key.rsplit(".", 1)[0] + ".jpg" in images}
    os.kill(shard["pid"], signal.SIGKILL)
    return shard, kept, planned


def _deferred_until_complete(ctx, metadata: str, ledger_url: str, date: str, hook: Webhook) -> dict:
    """Once the night's run is deferred on the drop's marker: what Airflow and the ledger show
    (the sensor's state, discover's, the trigger's class, the garments recorded); then, once the
    night's deadline has passed and the team was told it is late, the rest of the drop and its
    marker are uploaded, as the catalogue team finishes."""
    deadline = time.time() + 180
    with psycopg2.connect(libpq_url(metadata)) as conn:
        conn.autocommit = True
        while True:
            with conn.cursor() as cur:
                cur.execute(
                    "select ti.task_id, ti.state, t.classpath from task_instance ti left join trigger t on t.id = ti.trigger_id "
                    "where ti.dag_id = 'garment_drop' and ti.task_id in ('wait_for_drop', 'discover')"
                )
                rows = {task: (state, classpath) for task, state, classpath in cur.fetchall()}
            if rows.get("wait_for_drop", (None,))[0] == "deferred":
                break
            assert time.time() < deadline, f"the run never deferred on the marker: {rows}"
            time.sleep(1)
    time.sleep(3)  # a few pokes of the trigger: still nothing may start
    with psycopg2.connect(libpq_url(metadata)) as conn, conn.cursor() as cur:
        cur.execute("select state from task_instance where dag_id = 'garment_drop' and task_id = 'discover'")
        discover = cur.fetchone()
    seen = {
        "sensor": rows["wait_for_drop"][0],
        "discover": discover[0] if discover else None,
        "trigger": rows["wait_for_drop"][1],
        "garments": len(ctx.ledger.garments(date)),
    }
    seen["late"] = hook.wait_for("late", 180)
    upload_drop(ctx, date, SKUS[1:], (), complete=True)
    return seen


def test_garment_drop_on_celery_workers(s3_endpoint, new_database, redis_server, tmp_path):
    date = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()  # the run unpausing creates
    metadata, ledger_url = new_database(), new_database()
    port = free_port()
    settings = Settings(
        home=tmp_path / "home", bucket="cluster-run", s3_endpoint_url=s3_endpoint, ledger_url=ledger_url, task_retries=0
    )
    registry = save_published_layout(random_components(SMALL, seed=2), tmp_path / "weights", SMALL)
    ladi = {
        "TRYON_ENGINE": "ladi-vton",
        "TRYON_MODEL_REGISTRY": str(registry),
        "TRYON_INFERENCE_STEPS": "2",
        "TRYON_GUIDANCE_SCALE": "1",
        "TRYON_BATCH_SIZE": "1",
        "TRYON_DEVICE": "cpu",
    }
    # one earlier date: that a backfill runs each date of its range is tests/test_backfill.py's
    backfill_dates = [(datetime.now(UTC) - timedelta(days=2)).date().isoformat()]
    # distinct garments per date: the same bytes again would be a duplicate
    ctx = prepare_drops(
        settings,
        {date: SKUS[:1], backfill_dates[0]: ("TEE-00055",)},
        PHOTOS,
        unfinished=(date,),
    )
    store = ctx.store
    hook = Webhook()  # the team's webhook: the night's notices
    env = celery_env(
        tmp_path / "airflow",
        metadata,
        port,
        REDIS_DB,
        TRYON_HOME=str(settings.home),
        TRYON_BUCKET=settings.bucket,
        TRYON_S3_ENDPOINT_URL=s3_endpoint,
        TRYON_LEDGER_URL=ledger_url,
        TRYON_TASK_RETRIES="1",  # a killed shard is retried at once
        TRYON_RETRY_DELAY_S="0",
        TRYON_DROP_POKE_S="1",
        # the night must be done a minute from now: it is still waiting for its drop then
        TRYON_NIGHT_DEADLINE=(datetime.now(UTC) + timedelta(seconds=60)).strftime("%H:%M:%S"),
        TRYON_TEAM_TIMEZONE="UTC",
        AIRFLOW_CONN_TRYON_NOTIFY=hook.url,
        **ladi,
    )
    cluster = Cluster(env, tmp_path)
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False, capture_output=True)
    try:
        cluster.airflow("db", "migrate")
        # the same commands as docker/compose.yaml
        cluster.airflow("pools", "set", "gpu", "1", "try-on GPU slots")
        cluster.airflow("pools", "set", "cpu", "2", "CPU stage slots")
        cluster.start_services(port)
        cluster.start(
            "worker-gpu",
            "celery",
            "worker",
            "--queues",
            "gpu",
            "--concurrency",
            "1",
            "--celery-hostname",
            "gpu@%h",
            TRYON_WORKER_NAME="gpu-worker",
        )
        cluster.start(
            "worker-cpu",
            "celery",
            "worker",
            "--queues",
            "default,cpu",
            "--concurrency",
            "2",
            "--celery-hostname",
            "cpu@%h",
            TRYON_WORKER_NAME="cpu-worker",
        )
        cluster.wait_for_dag("garment_drop")
        cluster.airflow("dags", "unpause", "garment_drop")  # catchup off: one run, for yesterday
        waiting = _deferred_until_complete(ctx, metadata, ledger_url, date, hook)
        killed, stored_at_kill, planned = _kill_midway(store, libpq_url(ledger_url), date)
        state, deadline = None, time.time() + 420
        with psycopg2.connect(libpq_url(metadata)) as conn:
            conn.autocommit = True
            while state not in ("success", "failed"):
                assert time.time() < deadline, f"garment_drop did not finish (state {state})"
                time.sleep(3)
                with conn.cursor() as cur:
                    cur.execute("select state from dag_run where dag_id = 'garment_drop' and logical_date::date = %s", (date,))
                    row = cur.fetchone()
                    state = row[0] if row else None
            # a data engineer's backfill of an earlier date, run by the same scheduler and workers
            backfill = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tasks.cli",
                    "backfill",
                    "--scheduler",
                    "--from",
                    backfill_dates[0],
                    "--to",
                    backfill_dates[-1],
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert backfill.returncode == 0, backfill.stdout[-2000:] + backfill.stderr[-2000:]
            backfilled, deadline = [], time.time() + 420
            while len(backfilled) < len(backfill_dates) or any(s not in ("success", "failed") for _, s in backfilled):
                assert time.time() < deadline, f"the backfill did not finish: {backfilled}"
                time.sleep(3)
                with conn.cursor() as cur:
                    cur.execute(
                        "select logical_date::date::text, state from dag_run where dag_id = 'garment_drop' "
                        "and run_type = 'backfill' order by logical_date"
                    )
                    backfilled = cur.fetchall()
            with conn.cursor() as cur:
                cur.execute(
                    "select task_id, map_index, state, queue, pool, hostname from task_instance "
                    "where dag_id = 'garment_drop' order by task_id, map_index"
                )
                tasks = cur.fetchall()
                cur.execute(
                    "select ti.map_index, ti.try_number from task_instance ti join dag_run dr on dr.dag_id = ti.dag_id "
                    "and dr.run_id = ti.run_id where ti.task_id = 'tryon' and dr.logical_date::date = %s",
                    (date,),
                )
                tries = dict(cur.fetchall())
                cur.execute(
                    "select distinct dr.run_type, ti.priority_weight from task_instance ti join dag_run dr "
                    "on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id where ti.dag_id = 'garment_drop'"
                )
                weights = set(cur.fetchall())
    finally:
        cluster.stop()
        hook.close()
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False, capture_output=True)
    logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
    assert state == "success", (tasks, logs)
    # the half drop: the run waited, deferred, processing nothing; then took every garment
    # the deadline passed while the night waited: the triggerer told the team it is late, with
    # what is done and what is left; the finished nights said so; a backfill is never late
    late = waiting.pop("late")
    assert late is not None, ("no late notice within 3 minutes of the deadline", hook.received)
    assert late["date"] == date and late["garments"] == 0 and late["text"].startswith(f"The drop of {date} is LATE")
    assert "Done: " in late["text"] and "Running: " in late["text"]
    assert sorted((n["outcome"], n["date"]) for n in hook.received) == sorted(
        [("late", date), ("finished", date), *(("finished", d) for d in backfill_dates)]
    ), hook.received
    finished = next(n for n in hook.received if n["outcome"] == "finished" and n["date"] == date)
    assert finished["garments"] == len(SKUS) and finished["left"] == 0
    assert waiting == {
        "sensor": "deferred",
        "discover": None,
        "trigger": "tasks.airflow_glue.drop_ready.DropReadyTrigger",
        "garments": 0,
    }, waiting
    assert sorted(g.sku for g in ctx.ledger.garments(date)) == sorted(SKUS)
    wait = store.get_json(report_key(date, "stages/wait_for_drop.json"))
    assert wait["ok"] and wait["details"]["outcome"] == "ready" and wait["details"]["waited_s"] > 1, wait
    assert store.get_json(f"reports/{date}/summary.json")["drop"]["marked_complete"]
    tryons = [t for t in tasks if t[0] == "tryon"]
    assert len(tryons) == 1 + len(backfill_dates), "one shard per night: a night this small is below shard_min_generations"
    for task_id, _, ti_state, queue, pool, host in tasks:
        if task_id in ("tryon", "outfits"):  # the engine's tasks: the GPU queue
            assert (ti_state, queue, pool, host) == ("success", "gpu", "gpu", "gpu-worker"), task_id
        elif task_id in ("validate", "preprocess_garments", "measure", "preprocess"):  # mapped over chunks
            assert (ti_state, queue, pool, host) == ("success", "cpu", "cpu", "cpu-worker"), task_id
        elif ti_state == "success":
            assert (queue, pool, host) == ("default", "default_pool", "cpu-worker"), task_id
    # the killed shard was retried once, loaded the weights once more and generated only what was not stored
    assert tries == {killed["part"]: 2}, tries
    record = store.get_json(report_key(date, f"stages/tryon-{killed['part']}.json"))
    resumed = record["details"]
    assert record["ok"] and record["attempt"] == 2 and killed["attempt"] == 1, record
    assert resumed["pid"] != killed["pid"] and resumed["engine_loads"] == 1, resumed
    images_at_kill = sum(key.endswith(".jpg") for key in stored_at_kill)
    assert (resumed["existing"], resumed["generated"], resumed["failed"]) == (images_at_kill, planned - images_at_kill, 0), (
        resumed
    )
    after = generation_objects(store)
    assert {key: after[key] for key in stored_at_kill} == stored_at_kill, "nothing stored before the kill was written again"
    assert sum(key.endswith(".jpg") for key in after) >= planned
    # every shard, in every run: one process, one weight load, every batch of the shard through it
    for day in (date, *backfill_dates):
        summary = store.get_json(f"reports/{day}/summary.json")
        for shard in summary["tryon_tasks"]:
            assert shard["engine_loads"] == 1 and shard["batches"] == shard["generated"] + shard["existing"] > 1, (day, shard)
            assert shard["load_seconds"] > 0 and shard["seconds_per_generation"] > 0, (day, shard)
    cluster_manifest = store.get_json(f"storefront/manifests/{date}.json")
    cluster_review = sorted(k.split("/", 2)[2] for k in store.list_keys(f"review/{date}/"))
    assert cluster_manifest["count"] == 0 and cluster_review, "random weights are previews: every image waits for review"
    assert backfilled == [(d, "success") for d in backfill_dates], backfilled
    assert weights == {("scheduled", 1001), ("backfill", 1)}, "the nightly run's tasks outrank the backfill's"
    for day in backfill_dates:
        assert store.get_json(f"reports/{day}/summary.json")["generations_by_state"].get("flagged", 0) > 0, day

    # the same inputs through the embedded runner (dag.test) give the same manifest
    embedded = settings.model_copy(update={"bucket": "embedded-run", "ledger_url": new_database(), "home": tmp_path / "embedded"})
    embedded_store = prepare_drops(embedded, {date: SKUS}, PHOTOS).store
    result = run_tryon(embedded, "run", "--date", date, **ladi)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert embedded_store.get_json(f"storefront/manifests/{date}.json") == cluster_manifest
    assert sorted(k.split("/", 2)[2] for k in embedded_store.list_keys(f"review/{date}/")) == cluster_review
