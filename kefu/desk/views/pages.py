"""The desk's own pages and the customer-facing web widget."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from kefu.desk import security_headers
from kefu.desk.requests import SETTINGS

STATIC = Path(__file__).resolve().parent.parent / "static"


async def to_desk(request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk")


def page(name: str):
    """A static page, never cached: a new desk version shows at once."""

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})

    return serve


async def widget_js(request: web.Request) -> web.Response:
    """The widget bundled with the socket.io client it needs: one file, no CDN."""
    bundle = (STATIC / "vendor" / "socket.io.min.js").read_text() + "\n" + (STATIC / "widget.js").read_text()
    return web.Response(
        text=bundle,
        content_type="application/javascript",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"},
    )


async def widget_demo(request: web.Request) -> web.Response:
    """A page with the widget, to try it (and for the browser tests)."""
    # Empty (the scaled profile): the widget connects to the page's own origin,
    # the load balancer's public port.
    server = request.app[SETTINGS].public_rasa_url
    nonce = security_headers.new_nonce()
    html = (
        (STATIC / "widget-demo.html").read_text().replace("{{SERVER}}", json.dumps(server)).replace("{{NONCE}}", nonce)
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Content-Security-Policy": security_headers.widget_demo_policy(nonce, server)},
    )
