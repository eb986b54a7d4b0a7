"""A local webhook: an HTTP server on loopback that keeps the JSON bodies POSTed to it (what a
team's chat or incident hook would receive), for the tests of the night's notices."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class Webhook:
    """Listening once made (``with Webhook() as hook``, or ``close()``): ``hook.url`` to
    configure, ``hook.received`` the bodies and ``hook.paths`` where each was posted."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.paths: list[str] = []
        received, paths = self.received, self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body or b"null"))
                paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tryon"  # a path, as real webhooks have
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, outcome: str, timeout_s: float) -> dict | None:
        """The first notice received with ``outcome``, waiting up to ``timeout_s``."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            found = next((body for body in self.received if isinstance(body, dict) and body.get("outcome") == outcome), None)
            if found:
                return found
            time.sleep(0.5)
        return None

    def __enter__(self) -> Webhook:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
