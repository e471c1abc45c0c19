"""How a browser signs in to the desk: a session cookie plus a CSRF token.

The cookie carries the same token as the API's bearer header, HttpOnly and
SameSite=Strict. A state-changing call made with the cookie must also send
`X-CSRF-Token`, derived from the session token, which a page of another
site cannot read. Calls with a bearer header are not sent by browsers on
their own, so they need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

SESSION_COOKIE = "kefu_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"kefu-csrf:" + session_token.encode()).hexdigest()[:32]


def credentials(request: web.Request) -> tuple[str | None, bool]:
    """(token, came_from_cookie)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip(), False
    return request.cookies.get(SESSION_COOKIE) or None, True


def csrf_ok(request: web.Request, token: str) -> bool:
    if request.method in SAFE_METHODS:
        return True
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a refusal).
    sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(sent, csrf_token(token).encode())


def set_session(response: web.StreamResponse, token: str, max_age: int, secure: bool) -> None:
    # Secure only where the desk is served over HTTPS (KEFU_DESK_SECURE_COOKIES=1).
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="Strict", secure=secure
    )


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
