"""Taobao/Tmall as the platform relay and TMC drive the channel: signed
requests (kefu.clients.top_sign, tested against the published vector), buyers,
trade events, and what the fake TOP gateway received."""

from __future__ import annotations

import json
import urllib.parse
import uuid

from sqlalchemy.orm import Session

from kefu.clients.top_api import top_timestamp
from kefu.clients.top_sign import top_sign
from kefu.core.db import make_engine
from kefu.core.orders import orders_of
from tests.support.platforms import TAOBAO_APP_KEY, TAOBAO_APP_SECRET
from tests.support.stack import Stack, http


def signed(
    params: dict[str, str],
    method: str = "md5",
    secret: str = TAOBAO_APP_SECRET,
    app_key: str = TAOBAO_APP_KEY,
    timestamp: str | None = None,
) -> dict[str, str]:
    body = {"app_key": app_key, "timestamp": timestamp or top_timestamp(), "sign_method": method, **params}
    body["sign"] = top_sign(body, secret, method)
    return body


def post(
    stack: Stack,
    channel: str,
    route: str,
    params: dict[str, str] | None = None,
    raw: bytes | None = None,
    as_json: bool = False,
):
    if raw is None:
        raw = (json.dumps(params, ensure_ascii=False) if as_json else urllib.parse.urlencode(params)).encode()
    content_type = "application/json" if as_json else "application/x-www-form-urlencoded"
    return http("POST", f"{stack.rasa_url}/webhooks/{channel}/{route}", raw=raw, headers={"Content-Type": content_type})


def message(buyer: str, text: str, msg_id: str | None = None, buyer_field: str = "buyer_nick") -> dict[str, str]:
    return {
        buyer_field: buyer,
        "seller_nick": "好物小店",
        "content": text,
        "msg_id": msg_id or str(uuid.uuid4().int % 10**18),
        "msg_time": top_timestamp(),
    }


def say(stack: Stack, buyer: str, text: str, channel: str = "taobao", **kwargs):
    return post(stack, channel, "webhook", signed(message(buyer, text, **kwargs)))


def new_buyer(prefix: str = "buyer") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def user_events(stack: Stack, sender: str) -> list:
    status, tracker = stack.rasa_api("GET", f"/conversations/{sender}/tracker")
    assert status == 200
    return [e for e in tracker["events"] if e["event"] == "user"]


def texts_to(top_api, buyer: str) -> list:
    return [m["content"] for m in top_api.sent_to(buyer)]


def tmc_content(tid: str, buyer: str, payment: str = "128.50") -> dict:
    return {"tid": tid, "buyer_nick": buyer, "seller_nick": "好物小店", "payment": payment}


def new_tid() -> str:
    return str(3 * 10**18 + uuid.uuid4().int % 10**17)


def stored_orders(database_url: str, platform: str, buyer: str):
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return sorted((o.order_id, o.status, o.amount_cents) for o in orders_of(session, platform, buyer))
    finally:
        engine.dispose()
