"""garment_drop's typed params: Airflow refuses a bad one with the param's error before the run
starts; a run without a logical date processes the drop date given as a param; a run of another
model version triggered as from the UI is held to the evaluation gate: refused without an
evaluation, recorded when forced."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from tasks.ledger import BackfillDecision
from tasks.run_overrides import PARAMS, check_params
from tests.conftest import prepare_drops
from tests.test_garment_drop_dag import run_env

pytestmark = pytest.mark.airflow

# run in a process of its own, as a command would: Airflow configured for this test's home
TRIGGER = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from tasks.airflow_glue.runner import DAGS_FOLDER, configure_airflow, ensure_pool, migrate
from tasks.settings import get_settings

settings = get_settings()
configure_airflow(settings)
migrate()
ensure_pool(settings)
dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["garment_drop"]
try:
    bad = dag.test(logical_date=None, run_conf={"drop_date": "2026-11-20", "inference_steps": 0})
    refused = None
except Exception as error:
    refused = f"{type(error).__name__}: {error}"
run = dag.test(logical_date=None, run_conf={"drop_date": "2026-11-20", "photos_per_garment": 1})
# another model version, triggered as from the UI or the REST API: held to the evaluation gate
other = {"drop_date": "2026-11-21", "engine": "null", "drop_wait_s": 0}
gated = dag.test(logical_date=None, run_conf=other)
gated_tasks = {ti.task_id: str(ti.state) for ti in gated.get_task_instances()}
forced = dag.test(logical_date=None, run_conf={**other, "drop_date": "2026-11-22", "force_reason": "trying the null engine", "operator": "dana"})
print("RESULT " + json.dumps({"refused": refused, "state": str(run.state), "logical_date": str(run.logical_date),
    "gated": str(gated.state), "gated_tasks": gated_tasks, "forced": str(forced.state)}))
"""


def test_bad_params_are_refused_by_the_schema_the_cli_checks_too() -> None:
    check_params({"drop_date": "2026-11-20", "engine": "ladi-vton", "inference_steps": 20, "seed": None})
    for bad, message in (
        ({"inference_steps": 0}, "param inference_steps: 0 is less than the minimum of 1"),
        ({"engine": "dall-e"}, "param engine: 'dall-e' is not one of"),
        ({"drop_date": "2026-13-40"}, "param drop_date: '2026-13-40' is not a 'date'"),
        ({"bucket": "elsewhere"}, "a run may not set bucket"),
    ):
        with pytest.raises(ValueError, match=message):
            check_params(bad)
    assert PARAMS["drop_date"]["format"] == "date"


def test_airflow_refuses_a_bad_param_and_a_run_without_logical_date_takes_the_drop_date_param(
    s3_endpoint, postgres_url, tmp_path
) -> None:
    """...and its tasks reach S3 and the ledger through Airflow connections: the environment has
    no TRYON_S3_ENDPOINT_URL (boto3 would go to AWS) and no TRYON_LEDGER_URL (a SQLite file in the
    home would be made), only the connections and their ids. The OpenLineage provider, writing to
    its file transport, emits each task's inputs and outputs: the drop date's own objects."""
    from sqlalchemy.engine import make_url

    from tasks.settings import Settings

    settings = Settings(home=tmp_path / "home", bucket="params", s3_endpoint_url=s3_endpoint, ledger_url=postgres_url)
    ctx = prepare_drops(settings, {"2026-11-20": ("TEE-03032", "JEANS-051946")}, ("05997_00.jpg", "051918_0.jpg"))
    env = {
        k: v
        for k, v in run_env(settings, TRYON_HOME=str(settings.home)).items()
        if k not in ("TRYON_S3_ENDPOINT_URL", "TRYON_LEDGER_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    database = make_url(postgres_url)
    env |= {
        "TRYON_AWS_CONN_ID": "tryon_s3",
        "TRYON_LEDGER_CONN_ID": "tryon_ledger",
        "AIRFLOW_CONN_TRYON_S3": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
        "AIRFLOW_CONN_TRYON_LEDGER": json.dumps(
            {
                "conn_type": "postgres",
                "host": database.host,
                "port": database.port,
                "login": database.username,
                "schema": database.database,
            }
        ),
    }
    events = tmp_path / "openlineage.json"  # the OpenLineage provider's file transport: one event a line
    env |= {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tryon-test",
    }
    done = subprocess.run([sys.executable, "-c", TRIGGER], env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["refused"] and "ParamValidationError" in result["refused"] and "inference_steps" in result["refused"]
    assert (result["state"], result["logical_date"]) == ("success", "None")
    garments = ctx.ledger.garments("2026-11-20")
    assert {g.sku: g.state for g in garments} == {"TEE-03032": "flagged", "JEANS-051946": "flagged"}
    assert len(ctx.ledger.generations("2026-11-20")) == 2, "photos_per_garment=1 from the run's params"
    assert ctx.store.get_json("storefront/manifests/2026-11-20.json")["count"] == 0, "written through the S3 connection"
    assert not (settings.home / "ledger.db").exists(), "the ledger came from its connection"
    # lineage: each task's completion event names the objects of the date it read and wrote
    lineage = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] == "COMPLETE" and "." in event["job"]["name"]:
            lineage.setdefault(  # the first run's (2026-11-20): the later runs are the gate's
                event["job"]["name"].split(".", 1)[1],
                (sorted(d["name"] for d in event["inputs"]), sorted(d["name"] for d in event["outputs"])),
            )
            assert all(d["namespace"] == "s3://params" for d in event["inputs"] + event["outputs"]), event
    assert lineage["discover"] == (["drops/2026-11-20"], [])
    assert lineage["match"] == (["library/index.parquet"], [])
    assert lineage["tryon"] == ([], ["generations"])
    assert lineage["publish"] == (["generations"], ["review/2026-11-20", "storefront", "storefront/manifests/2026-11-20.json"])
    assert lineage["looks"] == (["storefront"], ["storefront/looks"])
    assert lineage["report"] == ([], ["reports/2026-11-20"])
    assert lineage["validate"] == ([], []), "a stage that declares nothing carries nothing of the stage before"
    # a run of another model version without an evaluation: refused by its first task, nothing else ran
    assert result["gated"] == "failed", result
    tasks = result["gated_tasks"]
    assert tasks.pop("check_model_version") == "failed" and tasks.pop("fail_run_if_a_stage_failed") == "failed", tasks
    assert set(tasks.values()) <= {"upstream_failed", "skipped"}, json.dumps(tasks)  # publish and the report too
    refusal = ctx.store.get_json("reports/2026-11-21/stages/check_model_version.json")["error"]
    assert refusal.startswith("AirflowFailException: refusing to run with null-") and "no evaluation holds both" in refusal
    # forced with a reason: it runs, and the decision is recorded with the operator
    assert result["forced"] == "success", result
    with ctx.ledger.session() as session:
        [decision] = session.scalars(select(BackfillDecision)).all()
    assert (decision.decision, decision.operator, decision.date_from, decision.date_to) == (
        "forced",
        "dana",
        "2026-11-22",
        "2026-11-22",
    )
    assert decision.model_version.startswith("null-") and decision.current_model_version == "warp-baseline-1.0.0"
    assert decision.reason.startswith("trying the null engine (the evaluation said: no evaluation holds both")
