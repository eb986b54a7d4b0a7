"""The QA review page: a small server-rendered FastAPI app over the ledger and the bucket.

Reviewers sign in with their name and password (hashes from ``TRYON_REVIEWERS``). Sign-in
attempts are throttled per name and per address, with a lockout (``tasks/review/sessions.py``);
the session lives in the ledger and the cookie (HTTP-only, SameSite=Strict, Secure when
``TRYON_REVIEW_SECURE_COOKIES``) holds only a random token, so signing out ends it. Every POST
needs this page's Origin (``tasks/review/web_security.py``), a signed-in session (401
otherwise) and the session's CSRF token in the form (403 otherwise); the sign-in form carries a
token of its own, in a cookie and the form. Every response carries a strict CSP and the other
security headers.

    tryon review serve [--host 127.0.0.1] [--port 8090]
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tasks.context import RunContext
from tasks.ledger import spot_misses_by_suite, spot_tally
from tasks.qc.data_docs import data_docs_key
from tasks.qc.suite import failure_modes
from tasks.qc.suite_versions import current_suite
from tasks.rendering import TEMPLATES
from tasks.review import decisions, look_decisions, spot_check, undo
from tasks.review.auth import authenticate
from tasks.review.sessions import SignedIn, Throttle, end_session, find_session, open_session
from tasks.review.web_security import (
    SecurityHeaders,
    data_docs_media_type,
    is_media,
    notice_text,
    object_media_type,
    short_id,
    valid_date,
)

SESSION_COOKIE = "tryon_review"
SIGN_IN_COOKIE = "tryon_sign_in"  # the sign-in form's CSRF token, before there is a session
STATIC = {name: (Path(__file__).resolve().parent / "static" / name).read_bytes() for name in ("review.css", "review.js")}
STATIC_TYPES = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}
MAX_NAME, MAX_PASSWORD = 128, 1024

router = APIRouter()


@dataclass(frozen=True)
class Review:
    """What the page's handlers share: the ledger and bucket, and the sign-in throttle."""

    ctx: RunContext
    throttle: Throttle


def review_of(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: float) -> None:
    secure = review_of(request).ctx.settings.review_secure_cookies
    response.set_cookie(name, value, max_age=int(max_age), httponly=True, samesite="strict", secure=secure, path="/")


def signed_in(request: Request) -> SignedIn | None:
    """The request's session, while its reviewer is still configured."""
    ctx = review_of(request).ctx
    found = find_session(ctx.ledger, request.cookies.get(SESSION_COOKIE))
    return found if found is not None and found.reviewer in ctx.settings.reviewers else None


def require(request: Request) -> SignedIn:
    found = signed_in(request)
    if found is None:
        raise HTTPException(401, "sign in first")
    return found


def check_csrf(expected: str | None, token: str) -> None:
    if not expected or not hmac.compare_digest(token or "", expected):
        raise HTTPException(403, "missing or wrong CSRF token")


def page(
    name: str, request: Request, who: SignedIn | None, status: int = 200, headers: dict | None = None, **values: Any
) -> HTMLResponse:
    sign_in_token = None
    if who is None:
        sign_in_token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    html = TEMPLATES.get_template(name).render(
        reviewer=who.reviewer if who else None,
        csrf=who.csrf if who else sign_in_token,
        reason_max_chars=decisions.REASON_MAX_CHARS,
        **values,
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})
    if sign_in_token is not None:
        set_cookie(request, response, SIGN_IN_COOKIE, sign_in_token, 3600)
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return Response(STATIC[name], media_type=STATIC_TYPES[name], headers={"Cache-Control": "no-cache"})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    if signed_in(request) is not None:
        return RedirectResponse("/", status_code=303)
    return page("review_login.html", request, None, error=None)


@router.post("/login")
def login(request: Request, name: str = Form(...), password: str = Form(...), csrf: str = Form("")) -> Response:
    check_csrf(request.cookies.get(SIGN_IN_COOKIE), csrf)
    review = review_of(request)
    ctx, throttle = review.ctx, review.throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.admit(ctx.ledger, name, address)
    if wait:
        minutes = max(1, round(wait / 60))
        return page(
            "review_login.html",
            request,
            None,
            status=429,
            headers={"Retry-After": str(int(wait) + 1)},
            error=f"too many sign-in attempts: try again in {minutes} minute{'' if minutes == 1 else 's'}",
        )
    if len(name) > MAX_NAME or len(password) > MAX_PASSWORD or not authenticate(ctx.settings.reviewers, name, password):
        return page("review_login.html", request, None, status=401, error="unknown name or wrong password")
    throttle.succeeded(ctx.ledger, name, address)
    response = RedirectResponse("/", status_code=303)
    session_s = ctx.settings.review_session_s
    set_cookie(request, response, SESSION_COOKIE, open_session(ctx.ledger, name, session_s), session_s)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(require(request).csrf, csrf)
    end_session(review_of(request).ctx.ledger, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    who = signed_in(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    ctx = review_of(request).ctx
    return page(
        "review_home.html",
        request,
        who,
        dates=decisions.dates_awaiting(ctx),
        spot_dates=spot_check.dates_pending(ctx),
        spot=spot_tally(ctx.ledger),
        by_suite=spot_misses_by_suite(ctx.ledger),
        current_suite=current_suite(ctx).version,
    )


@router.get("/dates/{date}", response_class=HTMLResponse)
def date_page(request: Request, date: str, done: str | None = None, id: str | None = None) -> Response:
    who = signed_in(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    if valid_date(date) != date:
        raise HTTPException(404, "not a drop date")
    ctx = review_of(request).ctx
    decided = decisions.decisions(ctx, date)
    undo_left = undo.undoable(ctx, decided, who.reviewer)
    just_made = short_id(id) if done != "undone" else None
    return page(
        "review_date.html",
        request,
        who,
        date=date,
        items=decisions.flagged(ctx, date),
        looks=look_decisions.flagged_looks(ctx, date),
        spot_items=spot_check.pending(ctx, date),
        spot_rate=ctx.settings.spot_check_rate,
        decided=decided,
        undo_left=undo_left,
        undo_now=next((d for d in reversed(decided) if d.id in undo_left and d.generation_id[:8] == just_made), None),
        credentials=decisions.approved_credentials(ctx, date),
        data_docs=ctx.store.exists(data_docs_key(date)),
        failure_modes=failure_modes(current_suite(ctx)),
        notice=notice_text(done, id, lambda short: decisions.subject(ctx, date, short)),
    )


@router.get("/dates/{date}/data-docs/{name:path}")
def data_docs(request: Request, date: str, name: str) -> Response:
    """GX's Data Docs of the date's validations, as kept with its report (``tasks.qc.data_docs``):
    its pages and stylesheet, served under this page's CSP (GX's scripts from CDNs do not run
    here; the pages read as tables)."""
    require(request)
    media_type = data_docs_media_type(name)
    if valid_date(date) != date or media_type is None:
        raise HTTPException(404, "not a page of the Data Docs")
    try:
        data = review_of(request).ctx.store.get_bytes(data_docs_key(date).removesuffix("index.html") + name)
    except Exception as error:  # no such key: the same answer
        raise HTTPException(404, "no such page") from error
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=60"})


@router.get("/objects")
def image(request: Request, key: str) -> Response:
    require(request)
    media_type = object_media_type(key)
    if media_type is None:
        raise HTTPException(404, "not an image this page shows")
    try:
        data = review_of(request).ctx.store.get_bytes(key)
    except Exception as error:  # no such key, or one the store cannot read: the same answer
        raise HTTPException(404, "no such image") from error
    if not is_media(data, media_type):
        raise HTTPException(404, "not an image this page shows")
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


def decide(
    request: Request,
    csrf: str,
    act: Callable[[RunContext, str], Any],
    date: str,
    notice: str,
    short_id: Callable[[Any], str],
) -> Response:
    """A decision form's POST: a signed-in reviewer, this session's CSRF token, a real date,
    then ``act`` (called with the reviewer); a decision that cannot be taken is 409 (422
    without a reason). The page it returns to shows a notice from a fixed set."""
    who = require(request)
    check_csrf(who.csrf, csrf)
    if valid_date(date) != date:
        raise HTTPException(422, "not a drop date")
    try:
        result = act(review_of(request).ctx, who.reviewer)
    except decisions.ReviewError as error:
        raise HTTPException(422 if isinstance(error, decisions.ReasonInvalid) else 409, str(error)) from error
    return RedirectResponse(f"/dates/{date}?done={notice}&id={short_id(result)}", status_code=303)


def by_id(generation_id: str) -> Callable[[Any], str]:
    return lambda _result: generation_id[:8]


def labelled_rejection(
    request: Request,
    csrf: str,
    reject: Callable[[RunContext, str, str, str, str | None], None],
    generation_id: str,
    date: str,
    reason: str,
    failure_mode: str,
    notice: str,
) -> Response:
    """A rejection form's POST (flagged or spot-checked): the reason and the failure mode it names."""
    return decide(
        request, csrf, lambda ctx, who: reject(ctx, generation_id, who, reason, failure_mode), date, notice, by_id(generation_id)
    )


@router.post("/generations/{generation_id}/approve")
def approve(
    request: Request, generation_id: str, date: str = Form(...), csrf: str = Form(""), confirmed: str = Form("")
) -> Response:
    """Approving publishes at once, unless the generation failed QC checks: then, until the form
    says ``confirmed``, a page listing those checks asks the reviewer to confirm."""
    who = require(request)
    check_csrf(who.csrf, csrf)
    if confirmed != "yes" and valid_date(date) == date:
        item = decisions.flagged_item(review_of(request).ctx, generation_id)
        if item is not None and item.failed_checks:
            return page("review_confirm.html", request, who, date=date, item=item)
    return decide(
        request, csrf, lambda ctx, who: decisions.approve(ctx, generation_id, who), date, "approved", by_id(generation_id)
    )


@router.post("/decisions/{decision_id}/undo")
def undo_decision(request: Request, decision_id: int, date: str = Form(...), csrf: str = Form("")) -> Response:
    return decide(request, csrf, lambda ctx, who: undo.undo(ctx, decision_id, who), date, "undone", lambda gid: gid[:8])


@router.post("/generations/{generation_id}/reject")
def reject(
    request: Request,
    generation_id: str,
    date: str = Form(...),
    reason: str = Form(""),
    failure_mode: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    return labelled_rejection(request, csrf, decisions.reject, generation_id, date, reason, failure_mode, "rejected")


@router.post("/generations/{generation_id}/regenerate")
def regenerate(request: Request, generation_id: str, date: str = Form(...), csrf: str = Form("")) -> Response:
    return decide(
        request,
        csrf,
        lambda ctx, who: decisions.regenerate(ctx, generation_id, who),
        date,
        "regenerate",
        lambda new_id: new_id[:8],
    )


@router.post("/looks/{generation_id}/approve")
def approve_look(request: Request, generation_id: str, date: str = Form(...), csrf: str = Form("")) -> Response:
    return decide(
        request,
        csrf,
        lambda ctx, who: look_decisions.approve_look(ctx, generation_id, who),
        date,
        "approved",
        by_id(generation_id),
    )


@router.post("/looks/{generation_id}/reject")
def reject_look(
    request: Request, generation_id: str, date: str = Form(...), reason: str = Form(""), csrf: str = Form("")
) -> Response:
    return decide(
        request,
        csrf,
        lambda ctx, who: look_decisions.reject_look(ctx, generation_id, who, reason),
        date,
        "rejected",
        by_id(generation_id),
    )


@router.post("/generations/{generation_id}/spot-approve")
def spot_approve(request: Request, generation_id: str, date: str = Form(...), csrf: str = Form("")) -> Response:
    return decide(
        request, csrf, lambda ctx, who: spot_check.approve(ctx, generation_id, who), date, "spot-approved", by_id(generation_id)
    )


@router.post("/generations/{generation_id}/spot-reject")
def spot_reject(
    request: Request,
    generation_id: str,
    date: str = Form(...),
    reason: str = Form(""),
    failure_mode: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    return labelled_rejection(request, csrf, spot_check.reject, generation_id, date, reason, failure_mode, "spot-rejected")


def create_app(ctx: RunContext) -> FastAPI:
    """The review page over ``ctx``: its handlers are this module's, sharing a :class:`Review`."""
    app = FastAPI(title="tryon review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = Review(ctx, Throttle.from_settings(ctx.settings))
    app.add_middleware(SecurityHeaders, hsts=ctx.settings.review_secure_cookies)
    app.include_router(router)
    return app
