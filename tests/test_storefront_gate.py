"""The storefront gate (tasks/storefront/) is the only pipeline code that writes under
storefront/: conftest's ``storefront_written_only_through_its_gate`` holds every test to it,
and here it is shown to catch a stage that writes there itself."""

from __future__ import annotations

import pytest

from tasks import storefront
from tasks.catalog.look_files import LookFile, LooksModelRef
from tests.conftest import REPO


def _as_if_written_in(relative: str, ctx, key: str) -> None:
    """Run ``ctx.store.put_bytes(key, ...)`` as code of the file ``relative`` of this repository."""
    code = compile("store.put_bytes(key, b'{}', 'application/json')", str(REPO / relative), "exec")
    exec(code, {"store": ctx.store, "key": key})


def test_a_stage_writing_the_storefront_itself_is_caught_and_the_gate_is_not(ctx) -> None:
    with pytest.raises(AssertionError, match="tasks/publish.py wrote storefront/manifests/x.json without the storefront gate"):
        _as_if_written_in("tasks/publish.py", ctx, "storefront/manifests/x.json")
    with pytest.raises(AssertionError, match="tasks/looks/outfit_tryon.py wrote storefront/looks/l/p.jpg"):
        _as_if_written_in("tasks/looks/outfit_tryon.py", ctx, "storefront/looks/l/p.jpg")
    _as_if_written_in("tasks/publish.py", ctx, "review/2026-12-01/x.json")  # elsewhere: anyone's
    look_file = LookFile("TEE-1", "upper_body", "2026-12-01", LooksModelRef("looks-1", "0" * 64, True, "colour-hist"))
    assert storefront.put_look_file(ctx.store, look_file) is True
    assert storefront.put_look_file(ctx.store, look_file) is False, "unchanged: not written again"
    storefront.clear(ctx.store, ["storefront/looks/TEE-1.json"])
    assert not ctx.store.exists("storefront/looks/TEE-1.json")
    with pytest.raises(ValueError, match="not a storefront key"):
        storefront.clear(ctx.store, ["generations/x.jpg"])
