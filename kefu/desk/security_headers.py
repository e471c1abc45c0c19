"""Browser protections on every desk response.

The desk's pages load only their own scripts, styles and websocket, and are
never framed: another site cannot overlay them to trick an agent into
clicks (clickjacking), and an injected script could neither run inline nor
send anything elsewhere. `/widget.js` is the exception by design: shops
embed it in their own pages, so it gets no frame or page policy (a script
has none to apply) and keeps `Access-Control-Allow-Origin: *`. The demo
page sets its own policy (widget_demo_policy): its inline start-up script
runs by nonce, the widget's injected stylesheet is allowed, and it may
reach the Rasa server it chats with.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlparse

from aiohttp import web

DESK_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
EMBEDDABLE = ("/widget.js",)
WIDGET_API = "/api/widget/"


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def widget_demo_policy(nonce: str, server: str | None) -> str:
    """The demo page: the widget's socket.io goes to `server` (polling over
    http(s), then a websocket), or to the page's own origin."""
    connect = ["'self'"]
    if server:
        url = urlparse(server)
        ws_scheme = "wss" if url.scheme == "https" else "ws"
        connect += [f"{url.scheme}://{url.netloc}", f"{ws_scheme}://{url.netloc}"]
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; connect-src {' '.join(connect)}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


async def add(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: errors, static files and websockets included."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path in EMBEDDABLE:
        return
    if request.path.startswith(WIDGET_API):
        # The customer's widget on a shop's page reads these (its session id
        # in the path is the credential; no cookie is ever sent or needed).
        headers.setdefault("Access-Control-Allow-Origin", "*")
    headers.setdefault("Content-Security-Policy", DESK_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    # Desk URLs name conversations and customers: never leak them to other sites.
    headers.setdefault("Referrer-Policy", "no-referrer")
