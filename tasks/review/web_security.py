"""What every response and request of the review page goes through: security headers with a
strict CSP, the Origin check on state-changing requests, and the validation of what the URL
carries (drop dates, object keys, notices), so nothing a request makes up reaches the page,
the bucket or a redirect unchecked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date as date_type
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# the images the page shows: generations, garment cut-outs, library views, as JPEG or PNG
_OBJECT_KEY = re.compile(
    r"(generations|garments|library/artifacts)/[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*"
    r"\.(jpg|jpeg|png)"
)
MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
_SHORT_ID = re.compile(r"[0-9a-f]{8}")
NOTICES = {
    "approved": "approved {id}",
    "rejected": "rejected {id}",
    "regenerate": "re-generation {id} queued: run the date again",
    "spot-approved": "spot check confirmed {id}",
    "spot-rejected": "spot check rejected {id}: withdrawn from the storefront",
    "undone": "undid the decision on {id}",
}


def valid_date(value: str) -> str | None:
    """``value`` when it is a real YYYY-MM-DD date, else None."""
    if not _DATE.fullmatch(value or ""):
        return None
    try:
        return date_type.fromisoformat(value).isoformat()
    except ValueError:
        return None


def object_media_type(key: str) -> str | None:
    """The media type of an image key the page may serve, None for any other key."""
    if len(key) > 512 or any(part in ("", ".", "..") for part in key.split("/")) or not _OBJECT_KEY.fullmatch(key):
        return None
    return MEDIA_TYPES[key.rsplit(".", 1)[1]]


_DATA_DOCS_PAGE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*\.(html|css|ico)")
_DATA_DOCS_TYPES = {"html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "ico": "image/x-icon"}


def data_docs_media_type(name: str) -> str | None:
    """The media type of a Data Docs file the page may serve (a page, its stylesheet, its icon), None for any other name."""
    if len(name) > 512 or not _DATA_DOCS_PAGE.fullmatch(name) or ".." in name:
        return None
    return _DATA_DOCS_TYPES[name.rsplit(".", 1)[1]]


def is_media(data: bytes, media_type: str) -> bool:
    """The bytes are what the type says (an object named .jpg that holds HTML is not served)."""
    return data.startswith(_MAGIC[media_type])


def short_id(value: str | None) -> str | None:
    """``value`` when it is a generation's short id (8 hex digits), else None."""
    return value if _SHORT_ID.fullmatch(value or "") else None


def notice_text(kind: str | None, short: str | None, subject: Callable[[str], str | None]) -> str | None:
    """The status line after a decision, from a fixed set of texts: nothing a link makes up. It
    names what was decided by ``subject`` (the ledger's SKU and photo for the short id), with the id."""
    if kind not in NOTICES or short_id(short) is None:
        return None
    assert short is not None
    named = subject(short)
    return NOTICES[kind].format(id=f"{named} ({short})" if named else short)


def same_origin(request: Request) -> bool:
    """A state-changing request's Origin (or, without one, its Referer) names this page's host;
    a request without either (not a browser) is left to the CSRF token."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    host = request.headers.get("host", "")
    return source != "null" and urlsplit(source).netloc.lower() == host.lower() and bool(host)


class SecurityHeaders(BaseHTTPMiddleware):
    """Refuses a POST from another origin (403) and puts the security headers on every
    response: CSP, no framing, no sniffing, no referrer to other sites, and HSTS when served over HTTPS."""

    def __init__(self, app, *, hsts: bool) -> None:
        super().__init__(app)
        self.hsts = hsts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in ("GET", "HEAD") and not same_origin(request):
            response: Response = PlainTextResponse("cross-origin request refused", status_code=403)
        else:
            response = await call_next(request)
        headers = response.headers
        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"  # no-referrer would make browsers send "Origin: null" on forms
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if self.hsts:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response
