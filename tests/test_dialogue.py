"""Every dialogue path through the real model, over the REST channel."""

from __future__ import annotations

import re

from tests.support.stack import Stack, auth, http, new_sender

TICKET_NO = re.compile(r"工单号：(KF\d{6})")


def tickets_of(stack: Stack, token: str, customer_id: str) -> list:
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={customer_id}", headers=auth(token))
    assert status == 200, body
    return body["tickets"]


def test_greeting_uses_etiquette(stack: Stack):
    replies = stack.say(new_sender(), "亲，在吗")
    assert any("您好" in r and "欢迎光临" in r for r in replies), replies


def test_goodbye_and_thanks_are_polite(stack: Stack):
    sender = new_sender()
    assert any("再见" in r for r in stack.say(sender, "好的没事了，拜拜")), "no polite goodbye"
    assert any("不客气" in r for r in stack.say(sender, "太感谢了")), "no reply to thanks"


def test_inquiry_answered_from_the_knowledge_base_without_ticket(stack: Stack, agent_token: str):
    sender = new_sender()
    replies = stack.say(sender, "请问你们售楼处周末几点开门呀")
    assert any("售楼处" in r and "9:00" in r for r in replies), replies
    assert tickets_of(stack, agent_token, sender) == []


def test_inquiry_the_knowledge_base_cannot_answer_opens_ticket(stack: Stack, agent_token: str):
    sender = new_sender()
    message = "请问你们公司有没有招聘的岗位"  # nothing in the knowledge base comes close
    assert stack.parse(message)["intent"]["name"] == "inquiry"
    text = "\n".join(stack.say(sender, message))
    number = TICKET_NO.search(text).group(1)
    assert "2小时内" in text and "转人工" in text, text
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["intent"] == "inquiry" and ticket["category"] == "咨询"
    assert ticket["number"] == number


def test_complaint_apologises_first_classifies_and_promises_time(stack: Stack, agent_token: str):
    sender = new_sender()
    replies = stack.say(sender, "我要投诉！快递一个星期了还没到，物流太慢了，客服也不回消息")
    text = "\n".join(replies)
    assert text.startswith("非常抱歉"), text
    assert "物流" in text and "2小时内" in text, text
    number = TICKET_NO.search(text).group(1)
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["number"] == number
    assert ticket["intent"] == "complaint"
    assert ticket["category"] == "物流"
    assert ticket["status"] == "new"
    assert ticket["channel"] == "rest"
    assert ticket["customer_id"] == sender


def test_house_quality_complaint_gets_24_hour_promise(stack: Stack, agent_token: str):
    sender = new_sender()
    text = "\n".join(stack.say(sender, "刚交房一个月墙体就开裂了，你们这房屋质量太差了，我要投诉！"))
    assert "房屋质量" in text and "24小时内" in text, text
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["category"] == "房屋质量"
    # due_at is 24 h after created_at (ISO 8601 with a timezone)
    from datetime import datetime

    created = datetime.fromisoformat(ticket["created_at"])
    due = datetime.fromisoformat(ticket["due_at"])
    assert created.tzinfo is not None
    assert round((due - created).total_seconds() / 3600) == 24


def test_repair_form_collects_missing_slots_then_opens_ticket(stack: Stack, agent_token: str):
    sender = new_sender()
    first = "\n".join(stack.say(sender, "卫生间的水龙头一直滴水，麻烦派个师傅来修一下"))
    assert "房号" in first or "地址" in first, first
    second = "\n".join(stack.say(sender, "幸福家园3栋2单元501"))
    assert "手机" in second, second
    third = "\n".join(stack.say(sender, "186 1234 5678"))
    assert "工单号" in third and "维修师傅" in third and "2小时内" in third, third
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["intent"] == "repair"
    assert ticket["category"] == "维修"
    assert ticket["priority"] == "normal"
    assert ticket["room"] == "3栋2单元501"
    assert ticket["phone"] == "18612345678"
    assert "滴水" in ticket["summary"]


def test_urgent_repair_with_everything_in_one_message(stack: Stack, agent_token: str):
    sender = new_sender()
    text = "\n".join(stack.say(sender, "救命 12号楼803 燃气泄漏了好大的味道 电话13912345678"))
    assert "工单号" in text and "30分钟内" in text, text
    assert "燃气" in text and "关闭" in text, text  # safety advice for gas
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["priority"] == "urgent"
    assert ticket["room"] == "12号楼803" and ticket["phone"] == "13912345678"


def test_repair_form_rejects_invalid_phone(stack: Stack):
    sender = new_sender()
    stack.say(sender, "8幢602室 家里跳闸了 灯全都不亮")
    text = "\n".join(stack.say(sender, "12345"))
    assert "有效的手机号" in text, text


def test_payment_question_gets_payment_guide(stack: Stack, agent_token: str):
    sender = new_sender()
    text = "\n".join(stack.say(sender, "物业费在哪里交啊"))
    # REST is no WeChat official account: no 「本公众号」 here.
    assert "物业服务中心" in text and "公众号" not in text, text
    assert tickets_of(stack, agent_token, sender) == []


def test_already_paid_is_recorded_and_verified(stack: Stack, agent_token: str):
    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine
    from kefu.core.facts import facts_for

    sender = new_sender()
    text = "\n".join(stack.say(sender, "我物业费上周已经交过了，怎么还在催缴？"))
    assert "已付款" in text and "工单号" in text, text
    with Session(make_engine(stack.database_url)) as session:
        kinds = [f.kind for f in facts_for(session, sender)]
    assert kinds == ["already_paid"]
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["category"] == "付款"


def test_pay_later_and_stop_are_recorded(stack: Stack):
    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine
    from kefu.core.facts import facts_for

    sender = new_sender()
    later = "\n".join(stack.say(sender, "这个月手头紧，物业费能晚几天交吗"))
    assert "已为您记录" in later, later
    stop = "\n".join(stack.say(sender, "订单我不想要了，别催了"))
    assert "关闭付款提醒" in stop, stop
    with Session(make_engine(stack.database_url)) as session:
        kinds = [f.kind for f in facts_for(session, sender)]
    assert kinds == ["pay_later", "stop_reminders"]


def test_request_human_pauses_bot_until_desk_resumes(stack: Stack, agent_token: str):
    sender = new_sender()
    text = "\n".join(stack.say(sender, "转人工"))
    assert "转接人工客服" in text, text
    # While paused the bot says nothing, whatever the customer writes.
    assert stack.say(sender, "你好") == []
    assert stack.say(sender, "我要投诉") == []
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(agent_token))
    assert status == 200
    [conv] = [c for c in body["conversations"] if c["customer_id"] == sender]
    assert conv["channel"] == "rest" and conv["handoff_reason"] == "customer_request"
    # The complaint sent while paused opened no ticket.
    status, tickets = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(agent_token))
    assert tickets["tickets"] == []
    status, body = http("POST", f"{stack.desk_url}/api/conversations/{conv['id']}/resume", headers=auth(agent_token))
    assert status == 200, body
    assert body["conversation"]["status"] == "bot"
    assert any("您好" in r for r in stack.say(sender, "你好")), "bot silent after resume"


def test_repair_form_can_be_cancelled(stack: Stack, agent_token: str):
    sender = new_sender()
    stack.say(sender, "客厅的灯不亮了，能来修一下吗")
    text = "\n".join(stack.say(sender, "算了不用了"))
    assert "取消" in text, text
    assert tickets_of(stack, agent_token, sender) == []
    assert any("您好" in r for r in stack.say(sender, "你好")), "form still active after cancel"


def test_complaint_during_repair_form_is_not_taken_as_address(stack: Stack, agent_token: str):
    sender = new_sender()
    stack.say(sender, "厨房下水道堵了，麻烦安排师傅")
    text = "\n".join(stack.say(sender, "上次报修拖了一个礼拜，你们物业太不负责了，我要投诉"))
    assert text.startswith("非常抱歉") and "工单号" in text, text
    assert "房号" in text or "地址" in text, "form did not ask for the address again"
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["intent"] == "complaint"
    done = "\n".join(stack.say(sender, "5号楼1单元1202"))
    assert "手机" in done, done


def test_double_charge_opens_payment_ticket(stack: Stack, agent_token: str):
    sender = new_sender()
    text = "\n".join(stack.say(sender, "我交水电费的时候扣了两次钱，麻烦帮我退一下"))
    assert text.startswith("非常抱歉") and "工单号" in text and "原路退回" in text, text
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["intent"] == "payment_reminder" and ticket["category"] == "付款"


def test_out_of_scope_is_declined_politely(stack: Stack):
    text = "\n".join(stack.say(new_sender(), "给我讲个笑话吧"))
    assert "抱歉" in text and "转人工" in text, text


def test_a_handed_off_customer_stays_with_the_agent_after_the_session_expires(stack: Stack):
    """Rasa starts a new session after 60 idle minutes, which would lift the
    pause; the conversation is still in the desk's queue, so the bot stays silent."""
    sender = new_sender("expired")
    stack.say(sender, "你好")
    assert any("转接" in t for t in stack.say(sender, "转人工"))
    events = stack.tracker(sender)["events"]
    for event in events:  # the whole conversation two hours ago
        event["timestamp"] = event["timestamp"] - 7200
    status, _ = stack.rasa_api("PUT", f"/conversations/{sender}/tracker/events", events)
    assert status == 200
    assert stack.say(sender, "还有人吗？") == []
    latest = stack.tracker(sender)["events"]
    assert any(e["event"] == "session_started" and e["timestamp"] > events[-1]["timestamp"] + 3600 for e in latest)
    assert (
        stack.tracker(sender).get("paused") is True
        or [e["event"] for e in latest if e["event"] in ("pause", "resume")][-1] == "pause"
    )
