"""Photos customers send: the widget's upload (type by content, size limit,
one session's pictures only), the agents' view, and the ticket they join."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy.orm import Session

from kefu.core.db import make_engine
from kefu.core.models import Priority
from kefu.core.tickets import NewTicket, create_ticket, ticket_number
from tests.support.desk import Desk
from tests.support.media import get_bytes, png_bytes, upload
from tests.support.stack import auth, http


def widget_id() -> str:
    return f"web-{uuid.uuid4().hex}"


def open_ticket(database_url: str, customer_id: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            ticket, _ = create_ticket(
                session,
                NewTicket(
                    channel="socketio",
                    customer_id=customer_id,
                    intent="repair",
                    category="repair",
                    summary="厨房漏水",
                    opening_message="厨房漏水了",
                    source_message_id=uuid.uuid4().hex,
                    reply_hours=2,
                    priority=Priority.normal.value,
                ),
            )
            return ticket.id
    finally:
        engine.dispose()


def test_widget_photo_joins_the_open_ticket_and_agents_see_it(desk: Desk):
    customer = widget_id()
    ticket_id = open_ticket(desk.database_url, customer)
    png = png_bytes()
    status, body = upload(desk.desk_url, customer, png, filename="漏水.jpg")
    assert status == 201, body
    number = ticket_number(ticket_id)
    assert body["ticket"] == number
    assert body["reply"] == f"已收到您的图片，已补充到工单{number}，我们会尽快处理。"

    # The customer's own widget sees its picture, typed by its bytes (PNG, not the .jpg name).
    status, data, headers = get_bytes(f"{desk.desk_url}{body['url']}")
    assert status == 200 and data == png and headers["Content-Type"] == "image/png"

    token = desk.token()
    status, detail = http("GET", f"{desk.desk_url}/api/tickets/{ticket_id}", headers=auth(token))
    assert status == 200
    [item] = detail["media"]
    assert item["id"] == body["id"] and item["content_type"] == "image/png" and item["size"] == len(png)
    assert any(e["note"] == "客户补充了图片" for e in detail["timeline"])
    status, data, headers = get_bytes(f"{desk.desk_url}{item['url']}", headers=auth(token))
    assert status == 200 and data == png
    assert headers["Content-Type"] == "image/png" and headers["Content-Disposition"] == "inline"
    assert headers["X-Content-Type-Options"] == "nosniff" and "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    # Agents only: without a token the file is not served.
    assert get_bytes(f"{desk.desk_url}{item['url']}")[0] == 401


def test_a_photo_reaches_the_agent_watching_the_conversation(desk: Desk):
    """The desk's live feed announces a photo sent while the agent has the
    conversation open (the page then refreshes its gallery)."""
    import aiohttp

    customer = widget_id()
    status, first = upload(desk.desk_url, customer, png_bytes())
    assert status == 201
    token = desk.token()
    status, listed = http("GET", f"{desk.desk_url}/api/conversations?status=bot", headers=auth(token))
    [conversation] = [c for c in listed["conversations"] if c["customer_id"] == customer]
    ws_url = desk.desk_url.replace("http://", "ws://") + "/api/live"

    async def scenario():
        async with aiohttp.ClientSession(headers=auth(token)) as client, client.ws_connect(ws_url) as ws:
            # The page shows the gallery up to the first photo, then the customer sends another.
            await ws.send_json({"watch": conversation["id"], "after": 0, "media_after": first["id"]})
            status, second = await asyncio.to_thread(upload, desk.desk_url, customer, png_bytes(8, 8))
            assert status == 201
            while True:
                data = json.loads((await asyncio.wait_for(ws.receive(), 20)).data)
                if data["type"] == "media":
                    return second, data

    second, frame = asyncio.run(scenario())
    assert frame["conversation"] == conversation["id"]
    assert [m["id"] for m in frame["media"]] == [second["id"]]
    assert frame["media"][0]["url"] == f"/api/media/{second['id']}"


def test_widget_photo_without_a_ticket_is_acknowledged(desk: Desk):
    status, body = upload(desk.desk_url, widget_id(), png_bytes(), filename="a.png", content_type="image/png")
    assert status == 201, body
    assert body["ticket"] is None and body["reply"] == "已收到您的图片，客服会尽快查看。"


def test_widget_upload_is_typed_by_content_and_limited(desk: Desk):
    customer = widget_id()
    status, body = upload(desk.desk_url, customer, b"<html><script>alert(1)</script></html>", filename="x.jpg")
    assert status == 400 and "图片" in body["error"]
    status, body = upload(desk.desk_url, customer, png_bytes() + b"\0" * (10 * 1024 * 1024))
    assert status == 413 and "10 MB" in body["error"]
    status, body = upload(desk.desk_url, customer, b"", filename="x.png")
    assert status == 400
    # Not a widget session id: nothing is kept.
    assert upload(desk.desk_url, "wechat:o123", png_bytes())[0] == 404


def test_a_widget_sees_only_its_own_pictures(desk: Desk):
    owner, other = widget_id(), widget_id()
    status, body = upload(desk.desk_url, owner, png_bytes())
    assert status == 201
    assert get_bytes(f"{desk.desk_url}/api/widget/{other}/media/{body['id']}")[0] == 404
    assert get_bytes(f"{desk.desk_url}/api/widget/{owner}/media/{body['id']}")[0] == 200
    assert get_bytes(f"{desk.desk_url}/api/widget/{owner}/media/{body['id'] + 1000}")[0] == 404
    # The list, for the widget's restored history: one's own pictures only.
    status, listed = http("GET", f"{desk.desk_url}/api/widget/{owner}/media")
    assert status == 200 and [m["id"] for m in listed["media"]] == [body["id"]]
    assert listed["media"][0]["url"] == f"/api/widget/{owner}/media/{body['id']}"
    assert http("GET", f"{desk.desk_url}/api/widget/{other}/media") == (200, {"media": []})


def test_widget_upload_answers_cross_origin(desk: Desk):
    status, body = upload(desk.desk_url, widget_id(), b"not a picture")
    assert status == 400
    # Checked on the raw answer: the shop page's widget reads it cross-origin.
    import urllib.request

    req = urllib.request.Request(f"{desk.desk_url}/api/widget/{widget_id()}/media", method="OPTIONS")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == "*"
