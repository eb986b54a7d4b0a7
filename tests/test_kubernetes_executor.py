"""garment_drop under the KubernetesExecutor, as far as this machine allows.

No Kubernetes API server can run here (no Docker engine for kind, no kube-apiserver in the
registries), so no pod is started. What is checked is everything up to the pod-create request:
a real run of the DAG, parsed with the deployment's ConfigMap (docker/kubernetes/airflow.yaml),
records each task instance's executor_config in Airflow's metadata database; the provider's own
executor code then turns every task instance into the pod it would ask the cluster for
(tests/kubernetes_pods_of_run.py), and those pods are held against docker/ and the Kubernetes
API schemas."""

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tasks.settings import Settings
from tests.conftest import GARMENTS, MODEL_PHOTOS, cli_env, prepare_drops
from tests.test_docker_files import KUBERNETES_VERSIONS

REPO = Path(__file__).resolve().parent.parent
KUBE = REPO / "docker" / "kubernetes"
IMAGE_ROOT = "/opt/tryon/"  # where docker/Dockerfile.airflow puts the repository
DATE = "2026-11-20"
NODE_SELECTOR = {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
pytestmark = pytest.mark.airflow


@cache
def config_map() -> dict[str, str]:
    docs = yaml.safe_load_all((KUBE / "airflow.yaml").read_text())
    return next(doc for doc in docs if doc["kind"] == "ConfigMap")["data"]


def deployment_env(home: Path) -> dict[str, str]:
    """This machine's environment with the ConfigMap's Airflow and TRYON_ settings, the image's
    paths mapped onto the checkout; S3, the ledger and the metadata database stay local."""
    deployment = {
        key: value.replace(IMAGE_ROOT, f"{REPO}/")
        for key, value in config_map().items()
        if key.startswith(("AIRFLOW__KUBERNETES_EXECUTOR__", "TRYON_GPU_"))
    }
    # two GPU slots, and shards small enough that the sample drop's night is cut into one per slot
    return cli_env(
        home,
        **deployment
        | {"TRYON_GPU_NODE_SELECTOR": json.dumps(NODE_SELECTOR), "TRYON_GPU_POOL_SLOTS": "2", "TRYON_SHARD_MIN_GENERATIONS": "4"},
    )


@pytest.fixture(scope="module")
def pods(s3_endpoint, tmp_path_factory) -> list[dict]:
    """The pods of a garment_drop run of the sample drop (library preprocessed in this process:
    the pods of interest are the drop's)."""
    tmp = tmp_path_factory.mktemp("k8s")
    settings = Settings(bucket="k8s", s3_endpoint_url=s3_endpoint, ledger_url=f"sqlite:///{tmp / 'ledger.db'}")
    prepare_drops(settings, {DATE: tuple(GARMENTS)}, tuple(p.name for p in MODEL_PHOTOS))
    env = deployment_env(tmp / "home") | {
        "TRYON_BUCKET": settings.bucket,
        "TRYON_S3_ENDPOINT_URL": s3_endpoint,
        "TRYON_LEDGER_URL": settings.resolved_ledger_url,
    }
    run = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "run", "--date", DATE],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    airflow_home = tmp / "home" / "airflow"
    env |= {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__EXECUTOR": "KubernetesExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
    }
    built = subprocess.run(
        [sys.executable, "-m", "tests.kubernetes_pods_of_run", "garment_drop", str(tmp / "pods.json")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return json.loads((tmp / "pods.json").read_text())


def _task(pod: dict) -> str:
    return pod["metadata"]["labels"]["task_id"]


def test_tryon_pods_run_the_gpu_image_on_one_gpu(pods):
    template = yaml.safe_load((KUBE / "pod-template.yaml").read_text())
    cpu_image = template["spec"]["containers"][0]["image"]
    tryon = [pod for pod in pods if _task(pod) == "tryon"]
    assert len(tryon) == 2, "one try-on shard per GPU slot"
    assert sorted(int(pod["metadata"]["labels"]["map_index"]) for pod in tryon) == list(range(len(tryon)))
    outfits = [pod for pod in pods if _task(pod) == "outfits"]
    assert len(outfits) == 1, "the full-outfit images: the engine too, on a GPU"
    for pod in tryon + outfits:
        base = pod["spec"]["containers"][0]
        assert base["image"] == config_map()["TRYON_GPU_IMAGE"] == "tryon-gpu-worker:0.1.0"
        assert (
            base["resources"]["limits"] == {"nvidia.com/gpu": "1", "memory": "32Gi"} and "memory" in base["resources"]["requests"]
        )
        assert pod["spec"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert pod["spec"]["nodeSelector"] == NODE_SELECTOR
    others = [pod for pod in pods if _task(pod) not in ("tryon", "outfits")]
    assert {_task(pod) for pod in others} >= {
        "discover",
        "validate",
        "preprocess_garments",
        "check_inputs",
        "match",
        "qc",
        "publish",
        "report",
    }
    for pod in others:
        base = pod["spec"]["containers"][0]
        assert base["image"] == cpu_image == "tryon-airflow:0.1.0", _task(pod)
        assert "nvidia.com/gpu" not in json.dumps(pod) and "nodeSelector" not in pod["spec"], _task(pod)


def test_every_pod_keeps_the_template_and_runs_the_task_sdk(pods):
    for pod in pods:
        spec, base = pod["spec"], pod["spec"]["containers"][0]
        assert pod["metadata"]["namespace"] == config_map()["AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE"] == "tryon"
        assert base["name"] == "base" and len(spec["containers"]) == 1
        # the image's entry point runs a command that names a program as given (docker/entrypoint.sh)
        assert base["args"][:4] == ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string"]
        assert "command" not in base
        workload = json.loads(base["args"][4])
        assert workload["ti"]["task_id"] == _task(pod) and workload["ti"]["dag_id"] == "garment_drop"
        assert base["envFrom"] == [{"configMapRef": {"name": "tryon-config"}}, {"secretRef": {"name": "tryon-secrets"}}]
        assert not [e for e in base.get("env", []) if "SECRET" in e["name"] or "PASSWORD" in e["name"]]
        assert spec["serviceAccountName"] == "tryon-worker" and spec["restartPolicy"] == "Never"
        assert spec["securityContext"]["runAsUser"] == 50000
        assert sorted(m["mountPath"] for m in base["volumeMounts"]) == [
            "/etc/tryon",
            "/etc/tryon-c2pa",  # the Content Credentials' signing chain and key (a Secret)
            "/opt/airflow",
            "/tmp",
            "/var/cache/tryon-models",
        ]
        # the task's override keeps the template's lock-down: read-only root, no escalation, no capabilities
        assert base["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert config_map()["TRYON_MODEL_REGISTRY"].startswith("/etc/tryon/")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_pod_is_a_valid_kubernetes_pod(pods, version):
    for pod in pods:
        kubernetes_validate.validate(pod, version, strict=True)
