"""Customers asking about the tickets they have, adding to them, chasing an
overdue one (催单), and answering the survey with a comment: REST turns
through the running stack, the desk's API and live websocket, real SQLite."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from kefu.core.db import make_engine
from kefu.core.models import Survey, Ticket, utcnow
from kefu.core.tickets import NewTicket, create_ticket
from tests.support.agents import add_agent, login
from tests.support.stack import Stack, auth, http, new_sender, wait_for

COMPLAINT = "快递员态度很差，把东西扔在门口就走了，我要投诉"


def tickets_of(stack: Stack, token: str, customer_id: str) -> list[dict]:
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={customer_id}", headers=auth(token))
    assert status == 200, body
    return body["tickets"]


def detail(stack: Stack, token: str, ticket_id: int) -> dict:
    status, body = http("GET", f"{stack.desk_url}/api/tickets/{ticket_id}", headers=auth(token))
    assert status == 200, body
    return body


def said(stack: Stack, sender: str, text: str) -> str:
    return "\n".join(stack.say(sender, text))


def complaint_ticket(stack: Stack, token: str, sender: str) -> dict:
    reply = said(stack, sender, COMPLAINT)
    assert "工单号" in reply, reply
    [ticket] = tickets_of(stack, token, sender)
    return ticket


def seed_ticket(stack: Stack, sender: str, n: int, summary: str, ago: timedelta) -> int:
    """A ticket of this customer opened `ago` (tickets from earlier days)."""
    with Session(make_engine(stack.database_url)) as session:
        ticket, _ = create_ticket(
            session,
            NewTicket(
                channel="rest",
                customer_id=sender,
                intent="repair",
                category="报修",
                summary=f"报修：{summary}",
                opening_message=summary,
                source_message_id=f"seed-{n}",
                reply_hours=2,
            ),
            now=utcnow() - ago,
        )
        return ticket.id


def make_overdue(stack: Stack, ticket_id: int) -> None:
    with Session(make_engine(stack.database_url)) as session:
        past = utcnow() - timedelta(hours=1)
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(due_at=past))
        session.commit()


def test_a_status_question_by_number_answers_and_opens_no_ticket(stack: Stack, agent_token: str):
    sender = new_sender("status")
    ticket = complaint_ticket(stack, agent_token, sender)
    number = ticket["number"]
    reply = said(stack, sender, f"我刚才的工单{number}处理得怎么样了")
    assert number in reply and "客服团队" in reply and "前给您答复" in reply, reply
    # Retyped numbers are the same number: lowercase, spaces, full-width.
    digits = number[2:]
    full_width = "ＫＦ" + digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for asked in (f"{number} 进度", f"kf {digits}怎么样了", full_width):
        assert number in said(stack, sender, asked), asked
    assert len(tickets_of(stack, agent_token, sender)) == 1, "a status question opened a ticket"
    # The owner's name once someone took it; never internal details.
    me = http("GET", f"{stack.desk_url}/api/me", headers=auth(agent_token))[1]
    assert http("POST", f"{stack.desk_url}/api/tickets/{ticket['id']}/take", headers=auth(agent_token))[0] == 200
    reply = said(stack, sender, f"{number}有人处理了吗")
    assert f"客服{me['name']}" in reply and "处理中" in reply and "已有专人跟进" in reply, reply
    assert len(tickets_of(stack, agent_token, sender)) == 1


def test_another_customers_number_reads_like_one_that_does_not_exist(stack: Stack, agent_token: str):
    owner = new_sender("owner")
    theirs = complaint_ticket(stack, agent_token, owner)
    stranger = new_sender("stranger")
    about_theirs = said(stack, stranger, f"{theirs['number']} 进度")
    missing = "KF" + f"{theirs['id'] + 900000:06d}"
    about_missing = said(stack, stranger, f"{missing} 进度")
    assert "没有找到该工单" in about_theirs, about_theirs
    assert about_theirs.replace(theirs["number"], "N") == about_missing.replace(missing, "N")
    assert "快递员" not in about_theirs and "客服团队" not in about_theirs
    assert tickets_of(stack, agent_token, stranger) == []


def test_general_status_questions_with_none_one_and_several_tickets(stack: Stack, agent_token: str):
    sender = new_sender("general")
    for question in ("我的工单", "查一下我的报修进度", "投诉有结果了吗", "补充一下，门口还有积水"):
        assert "没有正在处理中的工单" in said(stack, sender, question), question
    assert tickets_of(stack, agent_token, sender) == []
    first = seed_ticket(stack, sender, 1, "厨房水管漏水", timedelta(days=3))
    one = said(stack, sender, "查一下我的报修进度")
    assert f"KF{first:06d}" in one and "厨房水管漏水" in one and "已经超时了，非常抱歉" in one, one
    second = seed_ticket(stack, sender, 2, "客厅灯不亮", timedelta(days=2))
    third = seed_ticket(stack, sender, 3, "门禁刷卡没反应", timedelta(days=1, hours=1))
    several = said(stack, sender, "我的工单")
    numbers = re.findall(r"KF\d{6}", several)
    # Newest first, each once, then how to see one.
    assert numbers[:3] == [f"KF{third:06d}", f"KF{second:06d}", f"KF{first:06d}"], several
    assert "3 个正在处理的工单" in several, several
    assert len(tickets_of(stack, agent_token, sender)) == 3


def test_more_about_an_open_ticket_goes_on_its_timeline_after_a_confirmation(stack: Stack, agent_token: str):
    sender = new_sender("followup")
    ticket = complaint_ticket(stack, agent_token, sender)
    asked = said(stack, sender, "还有，那个快递员还骂人，太过分了，我要投诉他")
    assert f"是关于工单{ticket['number']}的补充吗" in asked, asked
    done = said(stack, sender, "是的")
    assert ticket["number"] in done and "补充" in done, done
    assert len(tickets_of(stack, agent_token, sender)) == 1, "a follow-up opened a new ticket"
    timeline = detail(stack, agent_token, ticket["id"])["timeline"]
    assert [(e["kind"], e["note"]) for e in timeline] == [("customer", "还有，那个快递员还骂人，太过分了，我要投诉他")]
    # A nudge about it within the promise: on the timeline too, no question asked.
    nudged = said(stack, sender, "师傅什么时候到")
    assert "补充到工单" in nudged and ticket["number"] in nudged, nudged
    timeline = detail(stack, agent_token, ticket["id"])["timeline"]
    assert timeline[-1]["kind"] == "customer" and timeline[-1]["note"] == "师傅什么时候到"
    # More details, plainly given or announced: on the ticket too.
    for detail_text in ("我家是3栋2单元501", "补充一下，快递员穿的是蓝色衣服"):
        added = said(stack, sender, detail_text)
        assert ticket["number"] in added and ("记录到工单" in added or "补充到工单" in added), added
        timeline = detail(stack, agent_token, ticket["id"])["timeline"]
        assert (timeline[-1]["kind"], timeline[-1]["note"]) == ("customer", detail_text)
    assert len(tickets_of(stack, agent_token, sender)) == 1
    # "不是": a new matter, a new ticket.
    said(stack, sender, "另外你们客服态度也很差，我要投诉")
    new = said(stack, sender, "不是")
    assert "已为您登记投诉" in new, new
    assert len(tickets_of(stack, agent_token, sender)) == 2


def test_a_chase_on_an_overdue_ticket_raises_it_to_the_top_for_its_owner(stack: Stack):
    name, password = add_agent(stack.env, "agent", "chase-owner")
    token = login(stack.desk_url, name, password)
    me = http("GET", f"{stack.desk_url}/api/me", headers=auth(token))[1]
    sender = new_sender("chaser")
    ticket = complaint_ticket(stack, token, sender)
    assert http("POST", f"{stack.desk_url}/api/tickets/{ticket['id']}/take", headers=auth(token))[0] == 200
    # A newer ticket of the same owner would be on top without the chase.
    later = complaint_ticket(stack, token, new_sender("later"))
    assert http("POST", f"{stack.desk_url}/api/tickets/{later['id']}/take", headers=auth(token))[0] == 200
    mine = f"{stack.desk_url}/api/tickets?owner_id={me['id']}"
    assert [t["id"] for t in http("GET", mine, headers=auth(token))[1]["tickets"]] == [later["id"], ticket["id"]]
    make_overdue(stack, ticket["id"])

    import aiohttp

    ws_url = stack.desk_url.replace("http://", "ws://") + "/api/live"

    async def scenario():
        async with aiohttp.ClientSession(headers=auth(token)) as client, client.ws_connect(ws_url) as ws:
            reply = await asyncio.to_thread(said, stack, sender, "怎么还没人处理")

            async def notice():
                async for msg in ws:
                    data = json.loads(msg.data)
                    if data["type"] == "chase":
                        return data

            return reply, await asyncio.wait_for(notice(), 20)

    reply, notice = asyncio.run(scenario())
    assert "非常抱歉" in reply and "加急" in reply and ticket["number"] in reply, reply
    assert [t["id"] for t in notice["tickets"]] == [ticket["id"]] and notice["tickets"][0]["owner_id"] == me["id"]
    listed = http("GET", mine, headers=auth(token))[1]["tickets"]
    assert [t["id"] for t in listed] == [ticket["id"], later["id"]], listed
    top = listed[0]
    assert top["chases"] == 1 and top["chased_at"] and top["chase_due_at"] and top["overdue"] is True
    # Supervisors' overdue list (and the chased filter) show it.
    for query in ("overdue=true", "chased=true"):
        found = http("GET", f"{stack.desk_url}/api/tickets?{query}", headers=auth(token))[1]["tickets"]
        assert ticket["id"] in [t["id"] for t in found], query
    timeline = detail(stack, token, ticket["id"])["timeline"]
    assert timeline[-1]["kind"] == "chase" and timeline[-1]["note"].startswith("客户催促（第1次）"), timeline
    assert "加急" in said(stack, sender, "查一下我的工单进度")
    assert len(tickets_of(stack, token, sender)) == 1


def test_a_survey_score_with_a_comment_keeps_both_and_opens_no_complaint(stack: Stack, agent_token: str):
    sender = new_sender("survey-comment")
    ticket = complaint_ticket(stack, agent_token, sender)
    url = f"{stack.desk_url}/api/tickets/{ticket['id']}"
    assert http("POST", f"{url}/take", headers=auth(agent_token))[0] == 200
    assert http("POST", f"{url}/status", {"status": "resolved"}, headers=auth(agent_token))[0] == 200
    status, closed = http("POST", f"{url}/status", {"status": "closed"}, headers=auth(agent_token))
    assert status == 200 and closed["survey_sent"] is True
    answer = said(stack, sender, "2分，师傅来得太慢")
    assert "非常抱歉" in answer and "重新打开" in answer, answer
    body = detail(stack, agent_token, ticket["id"])
    assert body["ticket"]["status"] == "in_progress" and body["ticket"]["owner_id"] is None
    assert ("survey", "客户评价 2 分：师傅来得太慢") in [(e["kind"], e["note"]) for e in body["timeline"]]
    with Session(make_engine(stack.database_url)) as session:
        assert wait_for(lambda: session.query(Survey).filter_by(ticket_id=ticket["id"]).one().score == 2)
    assert len(tickets_of(stack, agent_token, sender)) == 1, "the survey answer opened a complaint"
