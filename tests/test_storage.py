"""ObjectStore against moto's server over HTTP: a real S3 API."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from botocore.exceptions import ClientError

from tasks import storage
from tasks.storage import ObjectStore


def test_round_trip_over_http(ctx):
    store = ctx.store
    assert store.client.meta.endpoint_url.startswith("http://127.0.0.1:")
    store.put_bytes("a/b.bin", b"\x00\x01")
    store.put_json("a/c.json", {"x": 1})
    assert store.get_bytes("a/b.bin") == b"\x00\x01"
    assert store.get_json("a/c.json") == {"x": 1}
    assert store.exists("a/b.bin") and not store.exists("a/missing")
    store.copy("a/b.bin", "d/e.bin")
    assert sorted(store.list_keys("")) == ["a/b.bin", "a/c.json", "d/e.bin"]
    assert store.get_json_or_none("a/c.json") == {"x": 1} and store.get_json_or_none("a/missing.json") is None
    listed = dict(store.list_objects("a/"))
    assert listed == {"a/b.bin": store.head("a/b.bin"), "a/c.json": store.head("a/c.json")}
    assert listed["a/b.bin"].size == 2


def test_listing_pages_past_a_thousand_keys(ctx):
    for i in range(1005):
        ctx.store.put_bytes(f"many/{i:05d}", b"")
    assert len(list(ctx.store.list_keys("many/"))) == 1005


def test_transient_errors_are_retried_in_standard_mode(settings):
    """A server that answers 503 gets exactly s3_max_attempts requests, then the error."""
    hits = []

    class Unavailable(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        store = ObjectStore.from_settings(settings.model_copy(update={"s3_endpoint_url": endpoint, "s3_max_attempts": 3}))
        assert store.client.meta.config.retries["mode"] == "standard"
        with pytest.raises(ClientError, match="503"):
            store.get_bytes("any/key")
    finally:
        server.shutdown()
    assert len(hits) == 3


def test_missing_bucket_is_an_error_not_an_empty_listing(settings):
    store = ObjectStore.from_settings(settings.model_copy(update={"bucket": "never-created"}))
    with pytest.raises(Exception, match="NoSuchBucket"):
        list(store.list_keys(""))


def test_key_layout_matches_the_brief():
    assert storage.drop_prefix("2026-11-20") == "drops/2026-11-20/"
    assert storage.generation_key("warp-baseline-1.0.0", "SKU1", "p1", "g1") == "generations/warp-baseline-1.0.0/SKU1/p1/g1.jpg"
    assert storage.storefront_key("SKU1", "p1") == "storefront/SKU1/p1.jpg"
    assert storage.storefront_manifest_key("2026-11-20") == "storefront/manifests/2026-11-20.json"
    assert storage.quarantine_prefix("2026-11-20", "SKU1") == "quarantine/2026-11-20/SKU1/"
    assert storage.report_key("2026-11-20", "report.html") == "reports/2026-11-20/report.html"
    assert storage.library_artifact_key("p1", "keypoints.json") == "library/artifacts/p1/keypoints.json"
