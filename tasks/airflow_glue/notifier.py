"""The one way the pipeline tells people something: an Airflow notifier that POSTs a JSON body to
the webhook named by an Airflow connection, as chat tools and incident services take them. The
connection is the webhook's URL (``AIRFLOW_CONN_TRYON_NOTIFY=https://hooks.example.com/services/abc``,
or the UI: type ``http`` or ``https``, host, port, and the path as its schema). The night's notices
(``notices.py``) and the rights DAG's warnings (docs/rights.md) go through it. A connection that is
not defined is said in the task log, and a message that cannot be sent is logged: neither fails the
run (the report says the same)."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)


class WebhookNotifier(BaseNotifier):
    """POSTs ``body`` to the connection's URL; with a run in the context, its ``dag_id`` and
    ``run_id`` are added where the body has none."""

    template_fields = ("body",)

    def __init__(self, conn_id: str, body: dict[str, Any], timeout_s: float = 10.0) -> None:
        super().__init__()
        self.conn_id, self.body, self.timeout_s = conn_id, body, timeout_s

    def url(self) -> str | None:
        """The webhook's URL from the connection, or None when it is not defined. The connection's
        type is the scheme and its schema the path (how Airflow reads a URL connection); the http
        provider's hook would take the path for the scheme."""
        from airflow.sdk import Connection

        try:
            conn = Connection.get(self.conn_id)
        except Exception as missing:  # not defined: the deployment asked for no messages
            log.info("no Airflow connection %s: the message is not sent (%s)", self.conn_id, missing)
            return None
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
        port = f":{conn.port}" if conn.port else ""
        return f"{scheme}://{conn.host}{port}/{(conn.schema or '').lstrip('/')}"

    def notify(self, context: Any) -> None:
        url = self.url()
        if url is not None:
            self.post(url, context)

    def post(self, url: str, context: Any) -> None:
        """POST the body to ``url`` (raises what the request raises)."""
        run = (context or {}).get("dag_run")
        body = {"dag_id": getattr(run, "dag_id", None), "run_id": getattr(run, "run_id", None)} if run else {}
        request = urllib.request.Request(
            url, data=json.dumps({**body, **self.body}).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310 (an operator's own URL)
            log.info("posted to %s: HTTP %s", self.conn_id, answer.status)


def send(conn_id: str, body: dict[str, Any], context: Any = None) -> bool:
    """Post ``body`` to the connection's webhook (from a task, or a callback in the triggerer);
    False when the connection is not defined or the post failed (logged, never raised)."""
    notifier = WebhookNotifier(conn_id, body)
    url = notifier.url()
    if url is None:
        return False
    try:
        notifier.post(url, context)
    except Exception:
        log.exception("the message could not be posted to %r", conn_id)
        return False
    return True
