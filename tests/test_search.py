"""The desk's search (kefu/core/search.py, `GET /api/search`): by customer
id, KF number, phone and text, phones masked, on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy.orm import Session

from kefu.core.conversations import record_handoff
from kefu.core.errors import BadRequest
from kefu.core.search import search
from kefu.core.tickets import NewTicket, create_ticket


def ticket(session: Session, customer: str, summary: str, phone: str | None = None, key: str = "m1"):
    made, _ = create_ticket(
        session,
        NewTicket(
            channel="wechat",
            customer_id=customer,
            intent="repair",
            category="报修",
            summary=summary,
            opening_message=summary,
            source_message_id=key,
            reply_hours=24,
            phone=phone,
            room="3栋502",
        ),
    )
    return made


def test_search_finds_by_kf_number_phone_customer_and_words_and_masks_phones(session: Session):
    leak = ticket(session, "wechat:o张三", "卫生间漏水，电话13800138000", phone="13800138000")
    ticket(session, "wechat:o李四", "楼道灯不亮", key="m2")
    record_handoff(
        session,
        channel="wechat",
        customer_id="wechat:o张三",
        intent="repair",
        reason="customer_request",
        last_message="漏水了快来人",
    )
    number = f"KF{leak.id:06d}"
    for query in (number, number.lower(), str(leak.id), "13800138000", "138 0013 8000", "张三", "漏水"):
        found = search(session, query)
        assert [t["number"] for t in found["tickets"]] == [number], query
        assert [c["customer_id"] for c in found["conversations"]] == ["wechat:o张三"], query
    found = search(session, "13800138000")["tickets"][0]
    assert found["phone"] == "138****8000" and "13800138000" not in found["summary"]
    assert search(session, "楼道")["tickets"][0]["customer_id"] == "wechat:o李四"
    assert search(session, "100%") == {"conversations": [], "tickets": []}  # % is a character, not a wildcard
    with pytest.raises(BadRequest):
        search(session, "   ")


def test_search_through_the_desk_needs_an_agent(stack, agent_token):
    from tests.support.stack import auth, http, new_sender

    sender = new_sender("搜索")
    stack.say(sender, "客服态度太差了，我要投诉")
    status, body = http("GET", f"{stack.desk_url}/api/search?q={quote(sender)}", headers=auth(agent_token))
    assert status == 200 and [t["customer_id"] for t in body["tickets"]] == [sender], body
    assert http("GET", f"{stack.desk_url}/api/search?q={quote(sender)}")[0] == 401
    assert http("GET", f"{stack.desk_url}/api/search?q=", headers=auth(agent_token))[0] == 400
