"""The pods Airflow's KubernetesExecutor builds for the task instances of a recorded DAG run.

Run as ``python -m tests.kubernetes_pods_of_run DAG_ID OUT.json`` with AIRFLOW_HOME (and the
[kubernetes_executor] settings) in the environment, after a run of DAG_ID. No Kubernetes API
server can run on this machine, so the executor is not started (that connects to the API): its
own queue path takes each task instance as the scheduler hands it over (an ExecuteTask workload
through ``queue_workload`` and ``trigger_tasks``, which reads ``executor_config``), then the
provider's ``AirflowKubernetesScheduler._build_pod_request`` builds the pod it would create,
from the pod template and the task's pod_override. Airflow's own ``airflow kubernetes
generate-dag-yaml`` would do this from the DAG alone, but (provider 10.25.0) it fails on mapped
tasks such as ``tryon``.
"""

from __future__ import annotations

import json
import queue
import sys

from kubernetes.client import ApiClient
from sqlalchemy import select


def pods_of_run(dag_id: str) -> list[dict]:
    from airflow.executors import workloads
    from airflow.models import TaskInstance
    from airflow.providers.cncf.kubernetes.executors.kubernetes_executor import KubernetesExecutor
    from airflow.providers.cncf.kubernetes.executors.kubernetes_executor_utils import AirflowKubernetesScheduler
    from airflow.utils.session import create_session

    executor = KubernetesExecutor()
    executor.task_queue = queue.Queue()  # what start() makes, without its API client and pod watchers
    executor.scheduler_job_id = "1"
    builder = object.__new__(AirflowKubernetesScheduler)  # its __init__ starts watchers on the API
    builder.kube_config, builder.namespace = executor.kube_config, executor.kube_config.kube_namespace
    builder.scheduler_job_id, builder.supports_task_instance_uuid = "1", executor.supports_task_instance_uuid
    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id)).all()
        for ti in tis:
            executor.queue_workload(workloads.ExecuteTask.make(ti), session=session)
        executor.trigger_tasks(open_slots=len(tis))
    pods = []
    while not executor.task_queue.empty():
        pods.append(ApiClient().sanitize_for_serialization(builder._build_pod_request(executor.task_queue.get())))
    return pods


if __name__ == "__main__":
    dag_id, out = sys.argv[1:3]
    with open(out, "w") as handle:
        json.dump(pods_of_run(dag_id), handle)
