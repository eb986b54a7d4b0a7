#!/bin/sh
# Run once by compose's minio-init (the minio/mc image): the bucket, then one user per service
# with its own policy; the root keys stay with this container and MinIO itself.
#   tryon-pipeline: read and write the bucket (every Airflow task)
#   tryon-review:   read generations/, garments/, library/artifacts/, qc/suites/; write storefront/ only
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing local/tryon
for service in pipeline review; do
  mc admin policy create local "tryon-$service" "/policies/$service-policy.json"
done
mc admin user add local tryon-pipeline "$TRYON_PIPELINE_S3_SECRET"
mc admin user add local tryon-review "$TRYON_REVIEW_S3_SECRET"
mc admin policy attach local tryon-pipeline --user tryon-pipeline || true  # already attached on a re-run
mc admin policy attach local tryon-review --user tryon-review || true
