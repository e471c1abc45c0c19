"""Emergencies through the running stack: the first reply is the safety advice
and the numbers, an urgent ticket is open, and the conversation waits at the
top of the desk's queue flagged urgent; inside a repair form too, on the
WeChat channel too. Look-alikes run the ordinary paths."""

from __future__ import annotations

import re

from tests.support.stack import Stack, auth, http, new_sender
from tests.support.taobao import new_buyer
from tests.support.taobao import say as taobao_say
from tests.support.wechat import new_openid, post, text_xml

TICKET_NO = re.compile(r"工单号：(KF\d{6})")


def tickets_of(stack: Stack, token: str, customer_id: str) -> list:
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={customer_id}", headers=auth(token))
    assert status == 200, body
    return body["tickets"]


def waiting_queue(stack: Stack, token: str) -> list:
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(token))
    assert status == 200, body
    return body["conversations"]


def position(queue: list, customer_id: str) -> int:
    [index] = [i for i, c in enumerate(queue) if c["customer_id"] == customer_id]
    return index


def test_lift_entrapment_first_reply_advises_opens_urgent_ticket_and_jumps_the_queue(stack: Stack, agent_token: str):
    # Two customers already wait for a human (older, normal handoffs).
    earlier = [new_sender("waiting"), new_sender("waiting")]
    for sender in earlier:
        stack.say(sender, "转人工")
    sender = new_sender("lift")
    replies = stack.say(sender, "电梯困人了！！快来人")
    first = replies[0]
    # Advice and numbers come first, and nothing is asked before them.
    assert "不要强行扒门" in first and "警铃" in first, replies
    assert "电梯轿厢内张贴的应急救援电话" in first and "119" in first, replies
    assert "？" not in first and "地址或房号" not in "\n".join(replies), replies
    number = TICKET_NO.search(first).group(1)
    assert "30分钟内" in first and "人工客服" in first, first

    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["number"] == number
    assert ticket["priority"] == "urgent" and ticket["intent"] == "emergency"
    assert "电梯困人" in ticket["summary"]

    queue = waiting_queue(stack, agent_token)
    mine = queue[position(queue, sender)]
    assert mine["priority"] == "urgent" and mine["handoff_reason"] == "emergency"
    # Ahead of the older normal handoffs; only other urgent ones may come before it.
    assert all(position(queue, sender) < position(queue, other) for other in earlier)
    assert all(c["priority"] == "urgent" for c in queue[: position(queue, sender)])
    # A person is responsible now: the bot stays silent.
    assert stack.say(sender, "人呢 快点") == []


def test_burst_pipe_gets_the_water_valve_advice_in_the_first_reply(stack: Stack, agent_token: str):
    sender = new_sender("pipe")
    replies = stack.say(sender, "水管爆了 到处都是水 7-2-301")
    assert "关闭入户总水阀" in replies[0], replies
    assert "地点：7-2-301" in replies[0], replies
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["priority"] == "urgent" and ticket["room"] == "7-2-301"


def test_emergency_in_the_middle_of_a_repair_form_ends_the_form(stack: Stack, agent_token: str):
    sender = new_sender("form")
    assert "房号" in "\n".join(stack.say(sender, "阳台的灯坏了 麻烦来修一下"))
    replies = stack.say(sender, "等等 厨房有很重的煤气味")
    assert "不要开关任何电器" in replies[0] and "关闭燃气总阀" in replies[0], replies
    # The form does not go on: no question for the room or the phone, no form left.
    assert "房号" not in "\n".join(replies) and "手机号码" not in "\n".join(replies), replies
    assert not (stack.tracker(sender).get("active_loop") or {}).get("name")
    queue = waiting_queue(stack, agent_token)
    assert queue[position(queue, sender)]["priority"] == "urgent"
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["priority"] == "urgent" and ticket["intent"] == "emergency"


def test_request_human_during_an_urgent_repair_form_stays_urgent(stack: Stack, agent_token: str):
    normal = new_sender("plain")
    stack.say(normal, "转人工")
    sender = new_sender("urgent-form")
    # Urgent per kefu/core/data/categories.yml (燃气), but not an emergency.
    first = "\n".join(stack.say(sender, "燃气灶打不着火了 麻烦派师傅来修"))
    assert "房号" in first or "地址" in first, first
    assert any("转接" in t for t in stack.say(sender, "转人工"))
    queue = waiting_queue(stack, agent_token)
    mine = queue[position(queue, sender)]
    assert mine["priority"] == "urgent" and mine["handoff_reason"] == "customer_request"
    assert position(queue, sender) < position(queue, normal)
    assert queue[position(queue, normal)]["priority"] == "normal"


def test_ordinary_repair_still_runs_the_form(stack: Stack, agent_token: str):
    sender = new_sender("repair")
    first = "\n".join(stack.say(sender, "卫生间漏水了 麻烦来修一下"))
    assert "房号" in first or "地址" in first, first
    assert "手机" in "\n".join(stack.say(sender, "幸福家园3栋2单元501"))
    done = "\n".join(stack.say(sender, "13912345678"))
    assert "工单号" in done and "2小时内" in done, done
    [ticket] = tickets_of(stack, agent_token, sender)
    assert ticket["priority"] == "normal" and ticket["intent"] == "repair"


def test_look_alikes_are_not_emergencies(stack: Stack, agent_token: str):
    for text in ("上次电梯坏了想投诉", "燃气费怎么交", "如果着火了应该从哪里逃生", "漏电开关老是跳闸"):
        assert stack.parse(text)["intent"]["name"] != "emergency", text
    sender = new_sender("gasfee")
    text = "\n".join(stack.say(sender, "燃气费怎么交"))
    assert "紧急" not in text and "119" not in text, text
    assert all(c["customer_id"] != sender for c in waiting_queue(stack, agent_token))


def test_emergency_intent_wins_whatever_else_is_ranked(stack: Stack):
    parsed = stack.parse("家里煤气味很重")
    assert parsed["intent"] == {"name": "emergency", "confidence": 1.0}
    assert parsed["intent_ranking"][0]["name"] == "emergency"
    assert len(parsed["intent_ranking"]) > 1  # the classifier's own guesses stay below


def test_wechat_customer_gets_the_advice_and_an_urgent_place_in_the_queue(stack: Stack, agent_token: str):
    openid = new_openid()
    status, reply = post(stack, text_xml(openid, "着火了 楼道里全是烟"))
    assert status == 200
    content = reply["Content"]
    assert "119" in content and "不要乘坐电梯" in content, content
    queue = waiting_queue(stack, agent_token)
    mine = queue[position(queue, f"wechat:{openid}")]
    assert mine["channel"] == "wechat" and mine["priority"] == "urgent"


def test_taobao_buyer_gets_the_advice_through_the_gateway(stack: Stack, top_api, agent_token: str):
    buyer = new_buyer()
    status, body = taobao_say(stack, buyer, "刚收到的充电宝在冒烟 有点烧起来了")
    assert status == 200 and body["success"] is True, body
    # The advice first; with nobody at the desk, the duty phone after it.
    sent, *later = top_api.sent_to(buyer)
    assert "119" in sent["content"] and "不要乘坐电梯" in sent["content"], sent
    assert all("回复“留言”" not in m["content"] for m in later), later
    queue = waiting_queue(stack, agent_token)
    mine = queue[position(queue, f"taobao:{buyer}")]
    assert mine["channel"] == "taobao" and mine["priority"] == "urgent"
