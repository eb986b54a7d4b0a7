"""docker/'s per-service credentials, run for real where this machine can: the PostgreSQL init
script on a throwaway cluster of the machine's own PostgreSQL (roles, passwords, who may connect
where, then the review role's grants), and the MinIO policies under moto's IAM enforcement (what
the pipeline's and the review page's keys may read and write, the page's own approve path and
withdrawal included). moto does not check a copy's source against the policy; MinIO and S3 do."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import boto3
import numpy as np
import psycopg2
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from tasks.context import RunContext
from tasks.images import encode_jpeg
from tasks.ledger import Ledger
from tasks.review import decisions
from tasks.storage import ObjectStore, storefront_manifest_key
from tests.cluster import free_port
from tests.conftest import flagged_generations, storefront_copy_of

DOCKER = Path(__file__).resolve().parent.parent / "docker"
PASSWORDS = {
    "AIRFLOW_DB_PASSWORD": "airflow pw",
    "TRYON_LEDGER_DB_PASSWORD": "pipeline pw",
    "TRYON_REVIEW_DB_PASSWORD": "it's review's",
}
DATE = "2026-11-20"


@pytest.fixture(scope="module")
def fresh_cluster():
    """A new PostgreSQL cluster on a free port: trust over its socket (where the image's init
    scripts run), passwords over TCP (where the services connect), run as the postgres user
    (in a folder of its own outside pytest's, which only root may enter)."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries or shutil.which("runuser") is None:
        pytest.fail("the machine's PostgreSQL binaries (initdb, pg_ctl) and runuser are needed")
    folder = Path(tempfile.mkdtemp(prefix="tryon-pg-"))
    shutil.chown(folder, "postgres")
    folder.chmod(0o700)
    port, data = free_port(), folder / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            *as_postgres,
            f"{binaries[-1]}/initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
        check=True,
        capture_output=True,
    )
    # the server's output to its own log: a pipe it inherited would keep subprocess.run waiting
    subprocess.run(
        [
            *as_postgres,
            f"{binaries[-1]}/pg_ctl",
            "-D",
            str(data),
            "-w",
            "-l",
            str(folder / "server.log"),
            "start",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    try:
        yield folder, port
    finally:
        subprocess.run([*as_postgres, f"{binaries[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def connect(port: int, user: str, database: str, password: str | None = None):
    return psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname=database, password=password, connect_timeout=5)


def test_the_postgres_init_script_makes_one_role_per_service(fresh_cluster, monkeypatch, capsys):
    socket_folder, port = fresh_cluster
    env = os.environ | PASSWORDS | {"POSTGRES_USER": "postgres", "PGHOST": str(socket_folder), "PGPORT": str(port)}
    result = subprocess.run(["sh", str(DOCKER / "postgres-init.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # each role signs in with its own password over TCP, and only to its own database
    connect(port, "airflow", "airflow", PASSWORDS["AIRFLOW_DB_PASSWORD"]).close()
    for user, database in (("airflow", "ledger"), ("tryon_review", "airflow"), ("tryon_pipeline", "airflow")):
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            connect(
                port,
                user,
                database,
                PASSWORDS[
                    {
                        "airflow": "AIRFLOW_DB_PASSWORD",
                        "tryon_review": "TRYON_REVIEW_DB_PASSWORD",
                        "tryon_pipeline": "TRYON_LEDGER_DB_PASSWORD",
                    }[user]
                ],
            )
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(port, "tryon_review", "ledger", "guess")
    superusers = connect(port, "airflow", "airflow", PASSWORDS["AIRFLOW_DB_PASSWORD"])
    with superusers.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolsuper AND rolname NOT LIKE 'pg_%'")
        assert [row[0] for row in cursor.fetchall()] == ["postgres"], "no service role is a superuser"
    superusers.close()

    # airflow-init: the pipeline's role makes the ledger, then grants the review role its tables
    pipeline_url = f"postgresql+psycopg2://tryon_pipeline:pipeline%20pw@127.0.0.1:{port}/ledger"
    monkeypatch.setenv("TRYON_LEDGER_URL", pipeline_url)
    from tasks.cli import main

    assert main(["review", "grant", "tryon_review"]) == 0
    assert "granted tryon_review" in capsys.readouterr().out
    review = Ledger(f"postgresql+psycopg2://tryon_review:it%27s%20review%27s@127.0.0.1:{port}/ledger")
    assert review.generations(DATE) == []
    review.engine.dispose()
    as_review = connect(port, "tryon_review", "ledger", PASSWORDS["TRYON_REVIEW_DB_PASSWORD"])
    with as_review.cursor() as cursor, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cursor.execute("DELETE FROM generations")
    as_review.close()


REVIEW_POLICY = json.loads((DOCKER / "minio" / "review-policy.json").read_text())
PIPELINE_POLICY = json.loads((DOCKER / "minio" / "pipeline-policy.json").read_text())
SETUP_ACTIONS = 2 + 2 * 4  # the bucket and its check, then per user: user, policy, attachment, key


def _store_of(iam, name: str, policy: dict) -> ObjectStore:
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    return ObjectStore(client=client, bucket="tryon")


def _denied(call) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] == "AccessDenied"
    return False


@set_initial_no_auth_action_count(SETUP_ACTIONS)
@mock_aws
def _check_the_policies(settings, ledger_path: Path) -> None:
    root = ObjectStore(client=boto3.client("s3", region_name="us-east-1"), bucket="tryon")
    root.ensure_bucket()
    iam = boto3.client("iam", region_name="us-east-1")
    pipeline, review = _store_of(iam, "tryon-pipeline", PIPELINE_POLICY), _store_of(iam, "tryon-review", REVIEW_POLICY)

    # the pipeline writes every prefix it owns, and lists the bucket
    ledger = Ledger(f"sqlite:///{ledger_path}")
    as_pipeline = RunContext(settings=settings.model_copy(update={"bucket": "tryon"}), store=pipeline, ledger=ledger)
    ids = flagged_generations(as_pipeline, 3, date=DATE)
    image = encode_jpeg(np.full((32, 24, 3), 90, np.uint8))
    for key in (
        "garments/2026-11-20/TEE-1/cloth.jpg",
        "library/artifacts/p1/upper.jpg",
        "reports/2026-11-20/summary.json",
        "drops/2026-11-20/TEE-1/front.jpg",
        "qc/suites/v9.yaml",
    ):
        pipeline.put_bytes(key, image)
    assert "generations/v1/TEE-1/p1/" + ids[0] + ".jpg" in list(pipeline.list_keys("generations/"))

    # the review page reads its prefixes (and the QC suite versions it offers failure modes from) and nothing else...
    for key in (
        "garments/2026-11-20/TEE-1/cloth.jpg",
        "library/artifacts/p1/upper.jpg",
        ledger.generations(DATE)[0].object_key,
        "qc/suites/v9.yaml",
    ):
        assert review.get_bytes(key)
    for key in ("reports/2026-11-20/summary.json", "drops/2026-11-20/TEE-1/front.jpg"):
        assert _denied(lambda key=key: review.get_bytes(key)), key
    assert _denied(lambda: list(review.list_keys(""))), "no listing of the bucket"
    assert _denied(lambda: review.put_bytes("generations/v1/forged.jpg", image))
    assert _denied(lambda: review.delete(ledger.generations(DATE)[0].object_key))
    assert _denied(lambda: review.put_bytes("reports/2026-11-20/summary.json", b"{}"))

    # ...and publishes what a reviewer approves, and withdraws what a spot check rejects
    as_review = RunContext(settings=as_pipeline.settings, store=review, ledger=ledger)
    storefront = decisions.approve(as_review, ids[0], "alice")  # signs its Content Credentials beside the generation
    assert pipeline.get_bytes(storefront) == storefront_copy_of(as_pipeline, ids[0])
    assert [item["key"] for item in pipeline.get_json(storefront_manifest_key(DATE))["items"]] == [storefront]
    review.delete(storefront)  # what a rejected spot check does (tasks/review/spot_check.py)
    assert not pipeline.exists(storefront)


def test_the_minio_policies_give_each_service_only_its_prefixes(settings, tmp_path):
    _check_the_policies(settings, tmp_path / "ledger.db")
