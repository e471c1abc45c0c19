"""Photos: the widget's upload and its own pictures (the random `web-…`
session id in the path is the customer's credential, as for the rest of
/api/widget/), and any customer's media for signed-in agents.

Files are served with the type their bytes showed when they were kept,
`nosniff`, and a policy that runs nothing: a file is never a page."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import BodyPartReader, web

from kefu.core import media
from kefu.core.errors import BadRequest, KefuError, NotFound
from kefu.desk.requests import SETTINGS, in_db, int_param

WIDGET_SESSION = re.compile(r"^web-[0-9a-z]{16,64}$")
WIDGET_CHANNEL = "socketio"
CORS = {"Access-Control-Allow-Origin": "*"}
FILE_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"


def media_dir(request: web.Request) -> Path:
    return request.app[SETTINGS].media_dir


def widget_session(request: web.Request) -> str:
    session_id = request.match_info["session_id"]
    if not WIDGET_SESSION.match(session_id):
        raise NotFound("no such widget session")
    return session_id


async def read_upload(request: web.Request) -> bytes:
    """The multipart field `file`, read up to the limit (the app's 1 MiB body
    limit does not apply to a streamed part, this one does)."""
    if request.content_length is not None and request.content_length > media.MAX_BYTES + 64 * 1024:
        raise media.MediaTooLarge("文件太大了：图片请不要超过 10 MB。")
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("请用表单上传图片（multipart 字段 file）。")
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name != "file":
                continue
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data.extend(chunk)
                if len(data) > media.MAX_BYTES:
                    raise media.MediaTooLarge("文件太大了：图片请不要超过 10 MB。")
            return bytes(data)
    except (ValueError, AssertionError) as exc:  # a broken multipart body
        raise BadRequest("上传的内容无法读取，请重新选择图片。") from exc
    raise BadRequest("没有收到图片（表单字段 file）。")


async def widget_upload(request: web.Request) -> web.Response:
    try:
        session_id = widget_session(request)
        data = await read_upload(request)
        content_type = media.check_image(data)
        kept = await in_db(
            request, media.keep, media_dir(request), WIDGET_CHANNEL, session_id, "image", data, content_type, None
        )
    except KefuError as exc:
        # The widget runs on shop pages: its refusals need the CORS header too.
        return web.json_response(exc.as_json(), status=exc.status, headers=CORS)
    return web.json_response(
        {
            "id": kept.id,
            "url": f"/api/widget/{session_id}/media/{kept.id}",
            "ticket": kept.ticket_number,
            "reply": media.acknowledgement(kept.kind, kept.ticket_number),
        },
        status=201,
        headers=CORS,
    )


async def widget_preflight(request: web.Request) -> web.Response:
    return web.Response(
        status=204,
        headers={**CORS, "Access-Control-Allow-Methods": "POST, GET", "Access-Control-Max-Age": "600"},
    )


def serve(request: web.Request, found, extra: dict[str, str] | None = None) -> web.FileResponse:
    path = media.path_of(media_dir(request), found) if found is not None else None
    if path is None:
        raise NotFound("no such file")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": found.content_type or "application/octet-stream",
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": FILE_POLICY,
            "Cache-Control": "private, max-age=3600",
            **(extra or {}),
        },
    )


async def widget_media(request: web.Request) -> web.FileResponse:
    """Only that session's own media: another customer's id is not found."""
    session_id = widget_session(request)
    found = await in_db(request, media.get, int_param(request, "media_id"))
    if found is None or found.customer_id != session_id:
        raise NotFound("no such file")
    # An <img> on the shop's page: cross-origin reads are fine for one's own picture.
    return serve(request, found, {**CORS, "Cross-Origin-Resource-Policy": "cross-origin"})


async def widget_media_list(request: web.Request) -> web.Response:
    """That session's own pictures (for the widget's restored history)."""
    session_id = widget_session(request)
    found = await in_db(request, media.of_customer, session_id)
    return web.json_response(
        {
            "media": [
                {**media.media_to_json(m, f"/api/widget/{session_id}/media/{m.id}"), "source_ref": None}
                for m in found
                if m.stored_name
            ]
        },
        headers=CORS,
    )


async def agent_media(request: web.Request) -> web.FileResponse:
    found = await in_db(request, media.get, int_param(request, "media_id"))
    return serve(request, found)


async def customer_media(request: web.Request) -> web.Response:
    """A customer's media, for the conversation view."""
    customer_id = request.match_info["customer_id"]
    found = await in_db(request, media.of_customer, customer_id)
    return web.json_response({"media": [media.media_to_json(m) for m in found]})
