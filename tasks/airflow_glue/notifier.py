"""An Airflow notifier that posts a message to a webhook named by an Airflow connection (type
``http`` or ``https``: host, port, and the path as the connection's schema), as chat tools and
incident services take them: ``{"text": ..., "dag_id": ..., "run_id": ...}``. The rights DAG
warns through it (docs/rights.md); a connection that is not defined is said in the task log,
never an error: the warning stands in the report too."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)


class WebhookNotifier(BaseNotifier):
    template_fields = ("text",)

    def __init__(self, conn_id: str, text: str, timeout_s: float = 10.0) -> None:
        super().__init__()
        self.conn_id, self.text, self.timeout_s = conn_id, text, timeout_s

    def url(self) -> str | None:
        """The webhook's URL from the connection, or None when it is not defined."""
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowRuntimeError

        try:
            conn = Connection.get(self.conn_id)
        except (AirflowRuntimeError, LookupError) as missing:
            log.warning("no Airflow connection %s: the message is not sent (%s)", self.conn_id, missing)
            return None
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
        port = f":{conn.port}" if conn.port else ""
        return f"{scheme}://{conn.host}{port}/{(conn.schema or '').lstrip('/')}"

    def notify(self, context: Any) -> None:
        url = self.url()
        if url is None:
            return
        run = context.get("dag_run")
        body = {"text": self.text, "dag_id": getattr(run, "dag_id", None), "run_id": getattr(run, "run_id", None)}
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310 (an operator's own URL)
            log.info("posted to %s: HTTP %s", self.conn_id, answer.status)
