"""The QA review page: a small server-rendered FastAPI app over the ledger and the bucket.

Reviewers sign in with their name and password (hashes from ``TRYON_REVIEWERS``); the session
is a signed, HTTP-only, SameSite=Strict cookie. Every POST needs a signed-in session (401
otherwise) and the session's CSRF token in the form (403 otherwise), so another site cannot
submit a decision through a reviewer's browser.

    tryon review serve [--host 127.0.0.1] [--port 8090]
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from tasks.context import RunContext
from tasks.ledger import spot_tally
from tasks.rendering import TEMPLATES
from tasks.review import decisions, spot_check
from tasks.review.auth import authenticate

IMAGE_PREFIXES = ("generations/", "garments/", "library/artifacts/")


def _csrf(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def _check_csrf(request: Request, token: str) -> None:
    """The form must carry this session's token; a session that has none (a page of it was never
    rendered, e.g. right after sign-in) accepts no form at all."""
    expected = request.session.get("csrf", "")
    if not expected or not hmac.compare_digest(token or "", expected):
        raise HTTPException(403, "missing or wrong CSRF token")


def _reviewer(request: Request) -> str | None:
    return request.session.get("reviewer")


def _require_reviewer(request: Request) -> str:
    reviewer = _reviewer(request)
    if reviewer is None:
        raise HTTPException(401, "sign in first")
    return reviewer


def _page(name: str, request: Request, status: int = 200, **values: Any) -> HTMLResponse:
    html = TEMPLATES.get_template(name).render(reviewer=_reviewer(request), csrf=_csrf(request), **values)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def create_app(ctx: RunContext) -> FastAPI:
    settings = ctx.settings
    app = FastAPI(title="tryon review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionMiddleware, secret_key=settings.review_secret or secrets.token_urlsafe(32),
                       session_cookie="tryon_review", same_site="strict", https_only=False, max_age=12 * 3600)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return _page("review_login.html", request, error=None)

    @app.post("/login")
    def login(request: Request, name: str = Form(...), password: str = Form(...), csrf: str = Form("")) -> Response:
        _check_csrf(request, csrf)
        if not authenticate(settings.reviewers, name, password):
            return _page("review_login.html", request, status=401, error="unknown name or wrong password")
        request.session.clear()  # a new session id for the signed-in reviewer
        request.session["reviewer"] = name
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        _require_reviewer(request)
        _check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        if _reviewer(request) is None:
            return RedirectResponse("/login", status_code=303)
        return _page("review_home.html", request, dates=decisions.dates_awaiting(ctx), spot_dates=spot_check.dates_pending(ctx),
                     spot=spot_tally(ctx.ledger))

    @app.get("/dates/{date}", response_class=HTMLResponse)
    def date_page(request: Request, date: str, notice: str | None = None) -> Response:
        if _reviewer(request) is None:
            return RedirectResponse("/login", status_code=303)
        return _page("review_date.html", request, date=date, items=decisions.flagged(ctx, date), spot_items=spot_check.pending(ctx, date),
                     spot_rate=settings.spot_check_rate, decided=decisions.decisions(ctx, date), notice=notice)

    @app.get("/objects")
    def image(request: Request, key: str) -> Response:
        _require_reviewer(request)
        if not key.startswith(IMAGE_PREFIXES) or ".." in key:
            raise HTTPException(404, "not an image this page shows")
        media = "image/png" if key.endswith(".png") else "image/jpeg"
        return Response(ctx.store.get_bytes(key), media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    def decide(request: Request, csrf: str, act: Callable[[str], Any], date: str, notice: str) -> Response:
        """A decision form's POST: a signed-in reviewer, this session's CSRF token, then ``act``
        (called with the reviewer); a decision that cannot be taken is 409 (422 without a reason)."""
        reviewer = _require_reviewer(request)
        _check_csrf(request, csrf)
        try:
            result = act(reviewer)
        except decisions.ReviewError as error:
            raise HTTPException(422 if "needs a reason" in str(error) else 409, str(error)) from error
        return RedirectResponse(f"/dates/{date}?notice=" + notice.format(result=result).replace(" ", "+"), status_code=303)

    @app.post("/generations/{generation_id}/approve")
    def approve(request: Request, generation_id: str, date: str = Form(...), csrf: str = Form("")) -> Response:
        return decide(request, csrf, lambda who: decisions.approve(ctx, generation_id, who), date, f"approved {generation_id[:8]}")

    @app.post("/generations/{generation_id}/reject")
    def reject(request: Request, generation_id: str, date: str = Form(...), reason: str = Form(""), csrf: str = Form("")) -> Response:
        return decide(request, csrf, lambda who: decisions.reject(ctx, generation_id, who, reason), date, f"rejected {generation_id[:8]}")

    @app.post("/generations/{generation_id}/regenerate")
    def regenerate(request: Request, generation_id: str, date: str = Form(...), csrf: str = Form("")) -> Response:
        return decide(request, csrf, lambda who: decisions.regenerate(ctx, generation_id, who)[:8], date,
                      "re-generation {result} queued: run the date again")

    @app.post("/generations/{generation_id}/spot-approve")
    def spot_approve(request: Request, generation_id: str, date: str = Form(...), csrf: str = Form("")) -> Response:
        return decide(request, csrf, lambda who: spot_check.approve(ctx, generation_id, who), date,
                      f"spot check confirmed {generation_id[:8]}")

    @app.post("/generations/{generation_id}/spot-reject")
    def spot_reject(request: Request, generation_id: str, date: str = Form(...), reason: str = Form(""),
                    csrf: str = Form("")) -> Response:
        return decide(request, csrf, lambda who: spot_check.reject(ctx, generation_id, who, reason), date,
                      f"spot check rejected {generation_id[:8]}: withdrawn from the storefront")

    return app
