#!/bin/sh
# Fill the model cache from S3 (sha256-verified) before the worker takes try-on tasks, then run
# the Airflow command given (default: a Celery worker on queue gpu with one slot per GPU).
set -eu
if [ -n "${TRYON_MODEL_REGISTRY:-}" ]; then
  tryon models pull
fi
exec python -m airflow "$@"
