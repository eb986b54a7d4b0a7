"""What a try-on task's pod looks like under the KubernetesExecutor.

The executor builds each task's pod from the pod template (docker/kubernetes/pod-template.yaml:
the CPU image, the configuration and secrets from the environment), then the task's
``executor_config["pod_override"]``. Try-on tasks override the image with the GPU worker's, ask
for one GPU and tolerate the taint GPU nodes carry; everything else keeps the template. Other
executors ignore ``executor_config``, so the same DAG runs unchanged under Celery.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import models as k8s

from tasks.settings import Settings

GPU_RESOURCE = "nvidia.com/gpu"
# The executor merges overrides into the container of this name (Airflow's convention).
BASE_CONTAINER = "base"


def tryon_executor_config(settings: Settings) -> dict[str, Any]:
    """``executor_config`` of a try-on task: its pod runs ``settings.gpu_image`` on one GPU."""
    container = k8s.V1Container(
        name=BASE_CONTAINER,
        image=settings.gpu_image,
        # the override replaces the template's resources: a diffusion worker's own requests
        resources=k8s.V1ResourceRequirements(
            limits={GPU_RESOURCE: "1", "memory": "32Gi"}, requests={"cpu": "2", "memory": "16Gi"}
        ),
    )
    spec = k8s.V1PodSpec(
        containers=[container],
        node_selector=dict(settings.gpu_node_selector) or None,
        tolerations=[k8s.V1Toleration(key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")],
    )
    return {"pod_override": k8s.V1Pod(metadata=k8s.V1ObjectMeta(labels={"tryon/worker": "gpu"}), spec=spec)}
