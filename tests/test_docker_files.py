"""docker/: no Docker engine here, so the compose file and the Dockerfiles are checked
statically: the cluster's shape, the GPU reservation, secrets only from the environment, and
the same commands the cluster test runs. (`docker compose config` cannot run here: the Docker
CLI has no compose plugin, and Debian's docker-compose 1.29 predates the Compose Spec.)"""

import re
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"
REPO = DOCKER.parent
SECRET = re.compile(r"(PASSWORD|SECRET|ACCESS_KEY|JWT)", re.I)


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_describes_the_one_host_cluster():
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "minio", "airflow-init", "api-server", "scheduler", "dag-processor",
                             "triggerer", "worker-cpu", "worker-gpu", "review"}
    assert services["worker-gpu"]["command"] == ["celery", "worker", "--queues", "gpu", "--concurrency", "1"]
    assert services["worker-cpu"]["command"] == ["celery", "worker", "--queues", "default", "--concurrency", "2"]
    gpu = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker-cpu", "worker-gpu", "review"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "tasks.worker_name.worker_name"
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    assert "pools set gpu" in services["airflow-init"]["command"][0] and "db migrate" in services["airflow-init"]["command"][0]


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
        assert "torch==2.13.0" in text, "the same torch version as requirements.txt"
        for source in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, re.M):
            for path in source.split():
                assert (REPO / path).exists(), f"{name} copies {path}, which the repository lacks"
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    assert "HEALTHCHECK" in gpu and "DensePose" in gpu and "cu128" in gpu
    entry = DOCKER / "gpu-entrypoint.sh"
    assert entry.stat().st_mode & 0o111 and "tryon models pull" in entry.read_text()


def test_the_cluster_test_runs_the_same_worker_commands():
    cluster_test = (REPO / "tests" / "test_celery_cluster.py").read_text()
    assert '"celery", "worker", "--queues", "gpu", "--concurrency", "1"' in cluster_test
    assert '"celery", "worker", "--queues", "default", "--concurrency", "2"' in cluster_test
    assert '"pools", "set", "gpu", "1", "try-on GPU slots"' in cluster_test

