"""What the review tests share: a context on each ledger the page runs on, and the page served on loopback."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tasks.context import RunContext
from tasks.ledger import Ledger
from tasks.review.app import create_app
from tasks.review.auth import hash_password
from tests.cluster import free_port

PASSWORD = "correct horse battery"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(params=["sqlite", "postgresql"])
def each_ledger_ctx(request, ctx: RunContext) -> RunContext:
    """``ctx`` as it is (SQLite ledger), then over a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ctx
    return RunContext(settings=ctx.settings, store=ctx.store, ledger=Ledger(request.getfixturevalue("postgres_url")))


@contextlib.contextmanager
def serve(ctx: RunContext, **settings: Any) -> Iterator[str]:
    """The review app over ``ctx`` on a free loopback port, with reviewer alice (and ``settings``
    on top); yields its base URL. Like uvicorn's default, X-Forwarded-For from loopback is
    believed, so a test can speak from other addresses."""
    ctx.settings = ctx.settings.model_copy(update={"reviewers": {"alice": hash_password(PASSWORD)}, **settings})
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(
            create_app(ctx),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            forwarded_allow_ips=ctx.settings.review_trusted_proxies,
        )
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def signed_in_page(base: str) -> Iterator[Any]:
    """A headless Debian chromium page signed in to the review app at ``base`` as alice."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/login")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        yield page
        browser.close()
