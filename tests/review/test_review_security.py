"""Probes of the review page's sign-in and request handling, served by uvicorn on loopback over
each ledger (SQLite and PostgreSQL): guessing passwords is throttled and locked out per name and
per address (parallel guesses too), unknown names cost what known ones do, a session cookie
is worthless after sign-out, every response carries the security headers, POSTs from other
origins are refused, made-up object keys, dates and notices get nowhere. Every probe here was
answered wrongly before (issue 15)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from tasks.images import encode_jpeg
from tests.conftest import flagged_generations
from tests.review.conftest import PASSWORD, serve

DATE = "2026-11-20"


def keep_cookies(session: requests.Session, response: requests.Response) -> None:
    """What a browser on HTTPS would keep: the response's cookies, Secure ones too (requests
    sends no Secure cookie over the loopback's plain HTTP)."""
    for cookie in response.cookies:
        if cookie.secure:
            session.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path)


def sign_in_token(session: requests.Session, base: str) -> str:
    form = session.get(f"{base}/login", timeout=10)
    keep_cookies(session, form)
    return form.text.split('name="csrf" value="')[1].split('"')[0]


def try_sign_in(base: str, name: str, password: str, address: str = "10.0.0.1") -> requests.Response:
    """One sign-in from a fresh browser at ``address`` (X-Forwarded-For, believed from loopback)."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    token = sign_in_token(session, base)
    response = session.post(
        f"{base}/login", data={"name": name, "password": password, "csrf": token}, allow_redirects=False, timeout=30
    )
    keep_cookies(session, response)
    response.session = session  # type: ignore[attr-defined]
    return response


def signed_in(base: str) -> tuple[requests.Session, str]:
    """A signed-in reviewer's browser and its session's CSRF token."""
    response = try_sign_in(base, "alice", PASSWORD, "10.9.9.9")
    assert response.status_code == 303, response.text
    session = response.session  # type: ignore[attr-defined]
    session.signed_in = response  # type: ignore[attr-defined]
    page = session.get(f"{base}/dates/{DATE}", timeout=10).text
    return session, page.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
def flagged(each_ledger_ctx):
    """Three flagged generations; the first one's image a real JPEG."""
    ctx = each_ledger_ctx
    ids = flagged_generations(ctx, 3, date=DATE)
    first = ctx.ledger.generations(DATE)[0]
    ctx.store.put_bytes(first.object_key, encode_jpeg(np.full((64, 48, 3), 200, np.uint8)), "image/jpeg")
    return ctx, ids, first.object_key


def test_guessing_passwords_locks_the_name_then_the_address(flagged):
    ctx, _, _ = flagged
    with serve(ctx, review_max_attempts_per_name=5, review_max_attempts_per_address=12) as base:
        codes = [try_sign_in(base, "alice", f"guess {n}").status_code for n in range(5)]
        assert codes == [401] * 5
        locked = try_sign_in(base, "alice", "guess 6")
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 800
        assert "too many sign-in attempts" in locked.text
        assert try_sign_in(base, "alice", PASSWORD, "10.0.0.2").status_code == 429, (
            "the right password for a locked name is refused too, from any address"
        )
        # one address trying many names: after 12 attempts in all, even a good sign-in from it waits
        codes = [try_sign_in(base, f"user{n}", "x", "10.0.0.3").status_code for n in range(12)]
        assert codes == [401] * 12
        assert try_sign_in(base, "bob", "x", "10.0.0.3").status_code == 429
        # other addresses and names are not locked out by it
        assert try_sign_in(base, "carol", "x", "10.0.0.4").status_code == 401


def test_parallel_guesses_count_too(flagged):
    ctx, _, _ = flagged
    with serve(ctx, review_max_attempts_per_name=5) as base:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda n: try_sign_in(base, "alice", f"guess {n}", f"10.1.0.{n}").status_code, range(16)))
        assert sorted(codes) == [401] * 5 + [429] * 11


def test_an_unknown_name_costs_what_a_known_name_costs(flagged):
    """Before: unknown names answered about twice as slowly (a second hash), so names could be probed."""
    ctx, _, _ = flagged
    with serve(ctx, review_max_attempts_per_name=100, review_max_attempts_per_address=100) as base:

        def seconds(name: str) -> float:
            session = requests.Session()
            token = sign_in_token(session, base)
            start = time.perf_counter()
            response = session.post(f"{base}/login", data={"name": name, "password": "wrong", "csrf": token}, timeout=30)
            assert response.status_code == 401
            return time.perf_counter() - start

        seconds("alice"), seconds("mallory")  # warm, and both names' attempt counts exist
        known_s: list[float] = []
        unknown_s: list[float] = []
        for round_ in range(11):  # interleaved, each name first in turn: the machine's load hits both alike
            pair = ("alice", "mallory") if round_ % 2 else ("mallory", "alice")
            for name in pair:
                (known_s if name == "alice" else unknown_s).append(seconds(name))
        # the quickest answer is each name's own cost; a second hash (the bug) adds ~70 ms to every one
        known, unknown = min(known_s), min(unknown_s)
    assert 0.67 < unknown / known < 1.5, (known_s, unknown_s)


def test_a_cookie_captured_before_sign_out_is_worthless_after_it(flagged):
    ctx, ids, key = flagged
    with serve(ctx) as base:
        browser, csrf = signed_in(base)
        captured = browser.cookies.get("tryon_review")
        assert captured and browser.get(f"{base}/objects", params={"key": key}, timeout=10).status_code == 200
        assert browser.post(f"{base}/logout", data={"csrf": csrf}, allow_redirects=False, timeout=10).status_code == 303
        thief = requests.Session()
        thief.cookies.set("tryon_review", captured)
        assert thief.get(f"{base}/objects", params={"key": key}, timeout=10).status_code == 401
        assert thief.get(f"{base}/dates/{DATE}", allow_redirects=False, timeout=10).headers["location"] == "/login"
        refused = thief.post(
            f"{base}/generations/{ids[0]}/approve", data={"date": DATE, "csrf": csrf}, allow_redirects=False, timeout=10
        )
        assert refused.status_code == 401
    assert {g.state for g in ctx.ledger.generations(DATE)} == {"flagged"}


@pytest.mark.parametrize("secure", [False, True])
def test_every_response_carries_the_security_headers(flagged, secure):
    ctx, _, key = flagged
    with serve(ctx, review_secure_cookies=secure) as base:
        browser, _ = signed_in(base)
        session_cookie = browser.signed_in.headers["set-cookie"]
        assert session_cookie.startswith("tryon_review=") and "HttpOnly" in session_cookie
        assert "SameSite=strict" in session_cookie and ("Secure" in session_cookie) is secure
        responses = [
            requests.get(f"{base}/login", timeout=10),
            browser.get(f"{base}/", timeout=10),
            browser.get(f"{base}/dates/{DATE}", timeout=10),
            browser.get(f"{base}/static/review.js", timeout=10),
            browser.get(f"{base}/objects", params={"key": key}, timeout=10),
            browser.get(f"{base}/objects", params={"key": "x"}, timeout=10),
            requests.post(f"{base}/login", headers={"Origin": "https://evil.example"}, timeout=10),
        ]
    for response in responses:
        headers = response.headers
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert (
            "script-src 'self'" in headers["Content-Security-Policy"]
            and "unsafe-inline" not in headers["Content-Security-Policy"]
        )
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert ("Strict-Transport-Security" in headers) is secure
    sign_in_cookie = responses[0].headers["set-cookie"]
    assert "HttpOnly" in sign_in_cookie and "SameSite=strict" in sign_in_cookie and ("Secure" in sign_in_cookie) is secure
    page = responses[2].text
    assert "<script>" not in page and " style=" not in page and "<style" not in page, "the strict CSP would block inline code"


def test_posts_from_other_origins_are_refused(flagged):
    ctx, ids, _ = flagged
    with serve(ctx) as base:
        browser, csrf = signed_in(base)
        target = f"{base}/generations/{ids[0]}/approve"
        form = {"date": DATE, "csrf": csrf}
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Referer": "https://evil.example/page"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": f"{base}.evil.example"},
        ):
            refused = browser.post(target, data=form, headers=headers, allow_redirects=False, timeout=10)
            assert refused.status_code == 403, headers
        assert {g.state for g in ctx.ledger.generations(DATE)} == {"flagged"}
        accepted = browser.post(
            target, data=form, headers={"Origin": base, "Sec-Fetch-Site": "same-origin"}, allow_redirects=False, timeout=10
        )
        assert accepted.status_code == 303
    assert {g.generation_id: g.state for g in ctx.ledger.generations(DATE)}[ids[0]] == "published"


def test_made_up_keys_dates_and_notices_get_nowhere(flagged):
    ctx, ids, key = flagged
    sidecar = key.rsplit(".", 1)[0] + ".json"
    ctx.store.put_json(sidecar, {"engine": "test"})
    ctx.store.put_bytes("generations/v1/html.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")
    with serve(ctx) as base:
        browser, csrf = signed_in(base)
        image = browser.get(f"{base}/objects", params={"key": key}, timeout=10)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        for crafted in (
            "../ledger.db",
            "generations/../reports/x.jpg",
            "generations/v1/\x00.jpg",
            "generations/" + "a" * 2000 + ".jpg",
            f"{key}\n",
            "generations/",
            "",
            "/" + key,
            key.replace("/", "\\"),
            "generations//x.jpg",
            "reports/2026-11-20.json",
            sidecar,
            "generations/v1/html.jpg",
            "generations/v1/missing.jpg",
            "generations/v1/é.jpg",
            "storefront/manifests/2026-11-20.json",
            "generations/v1/%2e%2e/x.jpg",
        ):
            response = browser.get(f"{base}/objects", params={"key": crafted}, timeout=10)
            assert response.status_code == 404, (crafted, response.status_code)
        for date in ("2026-02-30", "20261120", "2026-11-20x", "..%2F..%2Fetc", "9999-99-99"):
            assert browser.get(f"{base}/dates/{date}", timeout=10).status_code == 404, date
        bad_date = browser.post(
            f"{base}/generations/{ids[0]}/approve",
            data={"date": "2026-13-01", "csrf": csrf},
            headers={"Origin": base},
            allow_redirects=False,
            timeout=10,
        )
        assert bad_date.status_code == 422
        planted = "Your account is suspended: call +1 555 0100"
        for query in (
            {"notice": planted},
            {"done": "approved", "id": planted},
            {"done": planted, "id": "deadbeef"},
            {"done": "approved", "id": "<b>deadbeef</b>"},
        ):
            page = browser.get(f"{base}/dates/{DATE}", params=query, timeout=10).text
            assert planted not in page and "<b>deadbeef" not in page and 'class="notice"' not in page, query
        shown = browser.get(f"{base}/dates/{DATE}", params={"done": "approved", "id": "deadbeef"}, timeout=10).text
        assert "approved deadbeef" in shown
    assert {g.state for g in ctx.ledger.generations(DATE)} == {"flagged"}


def test_a_sku_with_two_dots_is_served_but_a_dot_segment_never_is():
    """``A..B`` is a safe SKU name (intake accepts it): its images are served; a path segment of
    ``..`` or ``.`` never is."""
    from tasks.review.web_security import object_media_type

    assert object_media_type("generations/warp-baseline-1.0.0/A..B/p1/0123abcd.jpg") == "image/jpeg"
    for key in ("generations/../secrets/p.jpg", "generations/./x.jpg", "review//x.jpg", "../x.png"):
        assert object_media_type(key) is None, key
