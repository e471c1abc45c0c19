"""The waiting room through the running stack: customers waiting for an
agent are answered while the bot is paused (position and estimate, 留言,
leaving the queue), on their own channel, by the desk following Rasa's
event broker; nothing said while the desk was down is missed."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.agents import add_agent, login
from tests.support.processes import service_pids
from tests.support.scaled_stack import AMQP_URL, drop_amqp
from tests.support.stack import Stack, auth, http, new_sender, start_stack, stop_stack, wait_for
from tests.test_routing_stack import clear_queue

pytestmark = pytest.mark.e2e  # starts its own stack


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Stack:
    # Short timers (the defaults are 5 minutes and a minute); a crash-loop
    # window long enough that killing the desk once is a restart.
    running = start_stack(
        tmp_path_factory.mktemp("waiting-stack"),
        {
            "KEFU_REMINDER_WORKERS": "0",
            "KEFU_WAIT_OFFER_AFTER": "6",
            "KEFU_WAIT_NOTICE_EVERY": "1",
            "KEFU_CRASH_LOOP_WINDOW_SECONDS": "3600",
        },
    )
    yield running
    stop_stack(running)


def desk_up(stack: Stack) -> bool:
    try:
        return http("GET", f"{stack.desk_url}/healthz", timeout=5)[0] in (200, 503)
    except OSError:
        return False


def bot_texts(stack: Stack, sender: str) -> list[str]:
    return [e["text"] for e in stack.tracker(sender)["events"] if e.get("event") == "bot" and e.get("text")]


REOFFER = "让您久等了"


def next_bot_text(stack: Stack, sender: str, before: int, timeout: float = 10, reoffer: bool = False) -> str:
    """The first bot text after the `before` ones the conversation had. The
    waiting room's 留言 offer after a long wait comes on its own clock: it
    is skipped unless it is the one wanted (a slow machine may send it
    between a question and its answer)."""

    def found() -> list[str]:
        return [t for t in bot_texts(stack, sender)[before:] if reoffer == t.startswith(REOFFER)]

    assert wait_for(lambda: bool(found()), timeout), bot_texts(stack, sender)
    return found()[0]


def conversation_of(stack: Stack, token: str, customer: str) -> dict | None:
    listed = http("GET", f"{stack.desk_url}/api/conversations", headers=auth(token))[1]
    return next((c for c in listed["conversations"] if c["customer_id"] == customer), None)


def tickets_of(stack: Stack, token: str, customer: str) -> list[dict]:
    return http("GET", f"{stack.desk_url}/api/tickets?customer_id={quote(customer)}", headers=auth(token))[1]["tickets"]


def test_nobody_online_the_customer_is_told_asks_and_leaves_a_message(room: Stack):
    boss = login(room.desk_url, *add_agent(room.env, "supervisor", "boss"))
    sender = new_sender("留言客户")
    handoff = "\n".join(room.say(sender, "转人工"))
    assert "正在为您转接人工客服" in handoff and "暂时都不在线" in handoff and "留言" in handoff, handoff
    seen = len(bot_texts(room, sender))
    # Paused: the turn itself answers nothing; the waiting room does, on the customer's channel.
    assert room.say(sender, "还要等多久") == []
    assert "暂时都不在线" in next_bot_text(room, sender, seen)
    seen = len(bot_texts(room, sender))
    assert room.say(sender, "我家厨房水管堵了") == []
    assert "已收到" in next_bot_text(room, sender, seen)
    seen = len(bot_texts(room, sender))
    room.say(sender, "留言")
    assert "请直接发送您要留言的内容" in next_bot_text(room, sender, seen)
    seen = len(bot_texts(room, sender))
    room.say(sender, "厨房水管堵了，3栋502，电话13800138000")
    left = next_bot_text(room, sender, seen)
    assert "已为您留言" in left and "24小时内" in left, left
    [ticket] = tickets_of(room, boss, sender)
    assert ticket["category"] == "留言" and ticket["number"] in left, ticket
    # Back with the bot: it answers again, and the queue no longer holds the customer.
    assert wait_for(lambda: (conversation_of(room, boss, sender) or {}).get("status") in (None, "bot"), 10)
    assert any("您好" in r for r in room.say(sender, "你好")), "the bot stayed paused after the 留言"


def test_a_waiting_customer_hears_the_position_news_and_can_leave_the_queue(room: Stack):
    boss = clear_queue(room)  # what other tests left waiting would be served first
    token = login(room.desk_url, *add_agent(room.env, "agent", "full-agent"))
    agent_id = http("GET", f"{room.desk_url}/api/me", headers=auth(token))[1]["id"]
    http("PUT", f"{room.desk_url}/api/agents/{agent_id}", {"capacity": 1}, headers=auth(boss))
    http("POST", f"{room.desk_url}/api/me/status", {"status": "online"}, headers=auth(token))
    try:
        served, first, second = new_sender("已接待"), new_sender("排队甲"), new_sender("排队乙")
        room.say(served, "转人工")
        assert wait_for(lambda: (conversation_of(room, token, served) or {}).get("assignee_id") == agent_id, 10)
        # Once an agent holds the conversation, nobody else speaks: no bot, no waiting room.
        held = len(bot_texts(room, served))
        assert room.say(served, "在吗") == []
        room.say(first, "转人工")
        said = "\n".join(room.say(second, "转人工"))
        assert "您前面还有 1 位，预计等待约" in said, said
        seen = len(bot_texts(room, second))
        room.say(second, "还有人在吗")
        assert "您前面还有 1 位" in next_bot_text(room, second, seen)
        seen = len(bot_texts(room, second))
        # The one ahead leaves the queue: counted abandoned, back with the bot.
        gone = len(bot_texts(room, first))
        room.say(first, "算了，不等了")
        assert "已为您取消排队" in next_bot_text(room, first, gone)
        # The news reaches the one behind by itself (at most once a second here).
        assert "您前面没有其他客户在排队" in next_bot_text(room, second, seen), bot_texts(room, second)
        seen = len(bot_texts(room, second))
        # After the configured wait, 留言 is offered again.
        assert REOFFER in next_bot_text(room, second, seen, timeout=30, reoffer=True)
        assert len(bot_texts(room, served)) == held
    finally:
        http("POST", f"{room.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        for customer in (first, second, served):
            found = conversation_of(room, boss, customer)
            if found and found["status"] in ("waiting", "assigned"):
                http("POST", f"{room.desk_url}/api/conversations/{found['id']}/close", headers=auth(boss))


def test_an_emergency_with_nobody_online_gets_the_duty_phone_and_stays_first(room: Stack):
    boss = login(room.desk_url, *add_agent(room.env, "supervisor", "boss"))
    sender = new_sender("困人")
    said = "\n".join(room.say(sender, "救命，我被困在电梯里了"))
    assert "值班电话" in said and "回复“留言”" not in said, said  # never turned away to 留言
    found = conversation_of(room, boss, sender)
    assert found["priority"] == "urgent" and found["position"] == 1, found
    http("POST", f"{room.desk_url}/api/conversations/{found['id']}/close", headers=auth(boss))


def test_a_message_sent_while_the_desk_is_down_is_answered_when_it_is_back(room: Stack):
    pid_file = Path(room.env["KEFU_PID_FILE"])
    sender = new_sender("重启")
    room.say(sender, "转人工")
    seen = len(bot_texts(room, sender))
    desk = service_pids(pid_file)["desk"]
    os.kill(desk, signal.SIGSTOP)  # the desk hangs, then dies: what was said meanwhile waits in the broker
    try:
        assert room.say(sender, "算了") == []
    finally:
        os.kill(desk, signal.SIGKILL)
    assert wait_for(lambda: service_pids(pid_file)["desk"] != desk, timeout=30)
    assert wait_for(lambda: desk_up(room), timeout=60)
    # The old desk's lease runs out (10 s), then the new one goes on from its cursor.
    assert "已为您取消排队" in next_bot_text(room, sender, seen, timeout=40)


def test_on_rabbitmq_the_waiting_room_answers_and_a_broker_outage_loses_no_message(tmp_path, postgres_url):
    """The scaled profile's path (Rasa on PostgreSQL and Redis, events through
    RabbitMQ): RabbitMQ goes away while a waiting customer writes; once it is
    back the message is answered."""
    from tests.support.tcp_proxy import TcpProxy

    name = f"kefu-test-{uuid.uuid4().hex[:8]}"
    from urllib.parse import urlsplit

    proxy = TcpProxy(urlsplit(AMQP_URL).port or 5672)
    stack = start_stack(
        tmp_path,
        {
            "KEFU_DATABASE_URL": postgres_url,
            "KEFU_TRACKER_URL": postgres_url,
            "KEFU_REDIS_URL": "redis://127.0.0.1:6379/0",
            "KEFU_REDIS_PREFIX": name,
            "KEFU_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}/",  # RabbitMQ behind the proxy
            "KEFU_AMQP_QUEUE": name,
            "KEFU_AMQP_EXCHANGE": name,
            "KEFU_REMINDER_WORKERS": "0",
        },
    )
    try:
        sender = new_sender("兔子")
        assert "暂时都不在线" in "\n".join(stack.say(sender, "转人工"))
        seen = len(bot_texts(stack, sender))
        stack.say(sender, "还有人在吗")
        assert "暂时都不在线" in next_bot_text(stack, sender, seen, timeout=20)
        seen = len(bot_texts(stack, sender))
        proxy.cut()  # RabbitMQ "restarts": Rasa keeps what it cannot publish, the desk loses its consumer
        try:
            assert stack.say(sender, "不用了") == []  # the turn itself is stored and answered (nothing to say)
        finally:
            proxy.restore()
        assert "已为您取消排队" in next_bot_text(stack, sender, seen, timeout=60)
        assert any("您好" in r for r in stack.say(sender, "你好")), "the bot stayed paused"
    finally:
        stop_stack(stack)
        proxy.close()
        drop_amqp(AMQP_URL, name)


def test_outside_the_groups_hours_the_customer_is_told_the_hours_even_with_agents_online(room: Stack):
    boss = login(room.desk_url, *add_agent(room.env, "supervisor", "boss"))
    token = login(room.desk_url, *add_agent(room.env, "agent", "night-agent"))
    http("POST", f"{room.desk_url}/api/me/status", {"status": "online"}, headers=auth(token))
    [group] = [
        g
        for g in http("GET", f"{room.desk_url}/api/groups", headers=auth(boss))[1]["groups"]
        if g["name"] == "投诉专席"
    ]
    keep = {k: group[k] for k in ("intents", "categories", "channels", "hours", "holidays")}
    weekdays = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    today = (datetime.now(timezone.utc) + timedelta(hours=8)).strftime("%Y-%m-%d")
    url = f"{room.desk_url}/api/groups/{quote('投诉专席')}"
    status, body = http("PUT", url, {**keep, "hours": weekdays, "holidays": [today]}, headers=auth(boss))
    assert status == 200, body
    sender = new_sender("下班后")
    try:
        room.say(sender, "你们客服态度太差了，我要投诉")
        said = "\n".join(room.say(sender, "转人工"))  # the complaint's group is closed today (a holiday)
        assert "不在人工客服的服务时间（周一至周五 09:00-18:00）" in said and "留言" in said, said
    finally:
        http("PUT", url, keep, headers=auth(boss))
        http("POST", f"{room.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        found = conversation_of(room, boss, sender)
        if found and found["status"] in ("waiting", "assigned"):  # nothing left in the queue for other tests
            http("POST", f"{room.desk_url}/api/conversations/{found['id']}/close", headers=auth(boss))
