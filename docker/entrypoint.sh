#!/bin/sh
# Entry point of both images. An Airflow subcommand (`scheduler`, `celery worker ...`) runs as
# `python -m airflow ...`; a command that names a program runs as given: the KubernetesExecutor's
# pods run `python -m airflow.sdk.execution_time.execute_workload ...`, the review page `tryon ...`.
# With TRYON_PULL_WEIGHTS=1 (the GPU image) the model cache is first filled from the registry,
# sha256-verified, so a worker never takes a try-on task without its weights.
set -eu
if [ "${TRYON_PULL_WEIGHTS:-0}" = 1 ] && [ -n "${TRYON_MODEL_REGISTRY:-}" ]; then
  tryon models pull
fi
case "${1:-}" in
  python | python3 | tryon | sh | bash | /*) exec "$@" ;;
esac
exec python -m airflow "$@"
