"""The S3 hook every Airflow-side reader of the bucket uses (the drop sensor, hook lineage)."""

from __future__ import annotations

import json
from functools import cached_property

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper
from airflow.sdk import Connection

from tasks.settings import get_settings


class TryonS3Hook(S3Hook):
    """The provider's S3 hook; without an Airflow connection (``aws_conn_id`` unset: the CLI's
    embedded default, or a deployment configured by ``TRYON_S3_*``), the endpoint and region of
    the ``TRYON_S3_*`` settings, credentials from the usual AWS chain."""

    @cached_property
    def conn_config(self) -> AwsConnectionWrapper:
        if self.aws_conn_id:
            return super().conn_config
        settings = get_settings()
        extra = {
            "region_name": settings.s3_region,
            **({"endpoint_url": settings.s3_endpoint_url} if settings.s3_endpoint_url else {}),
        }
        connection = Connection(conn_id="tryon_s3_settings", conn_type="aws", extra=json.dumps(extra))
        return AwsConnectionWrapper(
            conn=connection,
            region_name=self._region_name or settings.s3_region,
            botocore_config=self._config,
            verify=self._verify,
        )
