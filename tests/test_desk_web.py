"""The desk in a browser's terms: pages, session cookie, CSRF, login limit,
one-click take-over (exactly one agent wins) and the conversation history."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.support.agents import add_agent
from tests.support.desk import Desk
from tests.support.stack import Stack, auth, http, new_sender


def new_agent(stack: Stack | Desk, role: str = "agent") -> tuple:
    return add_agent(stack.env, role, "web-agent")


def call(method: str, url: str, body=None, headers: dict[str, str] | None = None):
    """(status, json body, response headers), without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            raw, status, got = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as err:
        raw, status, got = err.read(), err.code, err.headers
    try:
        payload = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw.decode(errors="replace")
    return status, payload, got


def browser_login(stack: Stack | Desk, name: str, password: str):
    status, body, headers = call("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    return cookie, body["csrf_token"]


def test_pages_are_served_in_chinese(desk: Desk):
    status, page, headers = call("GET", f"{desk.desk_url}/login")
    assert status == 200 and "text/html" in headers["Content-Type"] and "登录" in page
    status, page, _ = call("GET", f"{desk.desk_url}/desk")
    assert status == 200 and "待接入" in page and "交还机器人" in page
    status, _, headers = call("GET", f"{desk.desk_url}/")
    assert status == 302 and headers["Location"] == "/desk"
    assert call("GET", f"{desk.desk_url}/static/desk.js")[0] == 200


def test_session_cookie_is_httponly_strict_and_state_changes_need_csrf(desk: Desk):
    name, password = new_agent(desk)
    cookie, csrf = browser_login(desk, name, password)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    session = {"Cookie": cookie.split(";")[0]}
    status, me, _ = call("GET", f"{desk.desk_url}/api/me", headers=session)
    assert status == 200 and me["name"] == name and me["role"] == "agent" and me["csrf_token"] == csrf
    # No cookie, no token: 401. A state-changing call with the cookie but without
    # the CSRF header (what a forged cross-site form would send): 403.
    assert call("GET", f"{desk.desk_url}/api/me")[0] == 401
    assert call("POST", f"{desk.desk_url}/api/conversations/1/take", headers=session)[0] == 403
    wrong = {**session, "X-CSRF-Token": "0" * 32}
    assert call("POST", f"{desk.desk_url}/api/conversations/1/take", headers=wrong)[0] == 403
    ok = {**session, "X-CSRF-Token": csrf}
    assert call("POST", f"{desk.desk_url}/api/conversations/999999/take", headers=ok)[0] == 404
    # A login posted from another site's page is refused (login CSRF).
    status, _, _ = call(
        "POST",
        f"{desk.desk_url}/api/login",
        {"name": name, "password": password},
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403
    # Signing out ends the session.
    assert call("POST", f"{desk.desk_url}/api/logout", headers=ok)[0] == 200
    assert call("GET", f"{desk.desk_url}/api/me", headers=session)[0] == 401


def test_failed_logins_are_rate_limited_per_name(desk: Desk):
    name, password = new_agent(desk)
    for _ in range(5):
        assert http("POST", f"{desk.desk_url}/api/login", {"name": name, "password": "guess"})[0] == 401
    # Even the right password waits now; other agents are not affected.
    status, body = http("POST", f"{desk.desk_url}/api/login", {"name": name, "password": password})
    assert status == 429 and "15 minutes" in body["error"]
    other, other_password = new_agent(desk)
    assert http("POST", f"{desk.desk_url}/api/login", {"name": other, "password": other_password})[0] == 200


def waiting_conversation(stack: Stack, token: str) -> dict:
    sender = new_sender("rest-customer")  # web-… ids are the widget's: REST refuses them
    stack.say(sender, "你好，我要报修，楼道灯坏了")
    stack.say(sender, "转人工")
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(token))
    [conversation] = [c for c in body["conversations"] if c["customer_id"] == sender]
    return conversation


def test_concurrent_take_over_exactly_one_agent_wins(stack: Stack):
    tokens = []
    for _ in range(4):
        name, password = new_agent(stack)
        tokens.append(http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"])
    conversation = waiting_conversation(stack, tokens[0])
    url = f"{stack.desk_url}/api/conversations/{conversation['id']}/take"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: http("POST", url, headers=auth(t)), tokens))
    assert sorted(status for status, _ in results) == [200, 409, 409, 409]
    [winner] = [body for status, body in results if status == 200]
    assert winner["conversation"]["status"] == "assigned"


def test_history_shows_customer_and_bot_turns(stack: Stack, agent_token: str):
    conversation = waiting_conversation(stack, agent_token)
    status, body = http(
        "GET", f"{stack.desk_url}/api/conversations/{conversation['id']}/messages", headers=auth(agent_token)
    )
    assert status == 200, body
    sides = [(m["from"], m["text"]) for m in body["messages"]]
    assert ("customer", "你好，我要报修，楼道灯坏了") in sides and ("customer", "转人工") in sides
    assert any(who == "bot" for who, _ in sides)


def test_live_websocket_loses_nothing_across_a_reconnect_and_takes_replies(stack: Stack):
    import asyncio

    import aiohttp

    name, password = new_agent(stack)
    cookie, csrf = browser_login(stack, name, password)
    session = {"Cookie": cookie.split(";")[0]}
    token = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
    conversation = waiting_conversation(stack, token)
    ws_url = stack.desk_url.replace("http://", "ws://") + "/api/live"

    async def collect(ws, want: str, timeout: float = 20) -> list:
        """Messages received until one turn contains `want`."""
        got = []

        async def read():
            async for msg in ws:
                data = json.loads(msg.data)
                if data["type"] == "messages":
                    got.extend(data["messages"])
                    if any(want in m["text"] for m in data["messages"]):
                        return

        await asyncio.wait_for(read(), timeout)
        return got

    async def scenario():
        async with aiohttp.ClientSession(headers=session) as client:
            async with client.ws_connect(ws_url) as ws:
                await ws.send_json({"watch": conversation["id"], "after": 0})
                first = await collect(ws, "转人工")
            last = max(m["timestamp"] for m in first)
            # The agent's page is offline while the customer writes twice.
            await asyncio.to_thread(stack.say, conversation["customer_id"], "第一条：楼道灯还是不亮")
            await asyncio.to_thread(stack.say, conversation["customer_id"], "第二条：麻烦尽快")
            async with client.ws_connect(ws_url) as ws:
                await ws.send_json({"watch": conversation["id"], "after": last})
                missed = await collect(ws, "第二条")
                await ws.send_json({"reply": "不该发出", "conversation": conversation["id"] + 1})
                await ws.send_json({"reply": "您好，已安排电工今天下午上门。", "conversation": conversation["id"]})

                async def outcome():
                    async for msg in ws:
                        data = json.loads(msg.data)
                        if data["type"] in ("sent", "error"):
                            return data

                wrong = await asyncio.wait_for(outcome(), 20)
                answer = await asyncio.wait_for(outcome(), 20)
            # Cross-site pages cannot open it with the agent's cookie; no cookie, no socket.
            with_origin = {**session, "Origin": "http://evil.example"}
            async with aiohttp.ClientSession(headers=with_origin) as evil, evil.get(ws_url) as resp:
                refused = resp.status
            async with aiohttp.ClientSession() as anonymous, anonymous.get(ws_url) as resp:
                anonymous_status = resp.status
        return first, missed, wrong, answer, refused, anonymous_status

    first, missed, wrong, answer, refused, anonymous_status = asyncio.run(scenario())
    assert wrong["type"] == "error" and wrong["status"] == 409
    assert ("customer", "转人工") in [(m["from"], m["text"]) for m in first]
    assert [m["text"] for m in missed if m["from"] == "customer"] == ["第一条：楼道灯还是不亮", "第二条：麻烦尽快"]
    assert answer["type"] == "sent" and answer["sent_text"] == "您好，已安排电工今天下午上门。"
    events = stack.tracker(conversation["customer_id"])["events"]
    assert any(e["event"] == "bot" and e.get("text") == answer["sent_text"] for e in events)
    assert refused == 403 and anonymous_status == 401


def test_canned_replies_from_the_seed_editable_by_supervisors_only(desk: Desk):
    agent, agent_password = new_agent(desk)
    boss, boss_password = new_agent(desk, role="supervisor")
    agent_token = http("POST", f"{desk.desk_url}/api/login", {"name": agent, "password": agent_password})[1]["token"]
    boss_token = http("POST", f"{desk.desk_url}/api/login", {"name": boss, "password": boss_password})[1]["token"]
    status, body = http("GET", f"{desk.desk_url}/api/canned-replies", headers=auth(agent_token))
    assert status == 200 and any("欢迎光临" in r["text"] for r in body["canned_replies"])
    new = {"title": "物业费", "text": "物业费可在公众号「生活缴费」中缴纳，全网最低价。"}
    assert http("POST", f"{desk.desk_url}/api/canned-replies", new, headers=auth(agent_token))[0] == 403
    status, created = http("POST", f"{desk.desk_url}/api/canned-replies", new, headers=auth(boss_token))
    assert status == 201 and "最低价" not in created["canned_reply"]["text"]  # stored already clean
    reply_id = created["canned_reply"]["id"]
    url = f"{desk.desk_url}/api/canned-replies/{reply_id}"
    assert http("PUT", url, {"title": "x", "text": "y"}, headers=auth(agent_token))[0] == 403
    assert http("PUT", url, {"title": "", "text": "y"}, headers=auth(boss_token))[0] == 400
    assert (
        http(
            "PUT",
            url,
            {"title": "物业费缴纳", "text": "您好，物业费可在「生活缴费」中缴纳。"},
            headers=auth(boss_token),
        )[0]
        == 200
    )
    assert http("DELETE", url, headers=auth(agent_token))[0] == 403
    assert http("DELETE", url, headers=auth(boss_token))[0] == 200
    assert http("DELETE", url, headers=auth(boss_token))[0] == 404


def test_conversation_view_lists_the_customers_own_orders(desk: Desk):
    from datetime import datetime, timezone

    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine
    from kefu.core.models import Order

    agent_token = desk.token()
    buyer, other = new_sender("desk-buyer"), new_sender("desk-other")
    with Session(make_engine(desk.database_url), future=True) as s:
        for order_id, who in (("3870000000000000001", buyer), ("3870000000000000002", other)):
            s.add(
                Order(
                    platform="tmall",
                    order_id=order_id + buyer[-4:],
                    shop="好物小店",
                    buyer=who,
                    amount_cents=12850,
                    status="unpaid",
                    created_at=datetime.now(timezone.utc),
                    updated_at=datetime.now(timezone.utc),
                )
            )
        s.commit()
    status, body = http("GET", f"{desk.desk_url}/api/customers/taobao:{buyer}/orders", headers=auth(agent_token))
    assert status == 200
    assert [(o["order_id"][:19], o["status"], o["amount"]) for o in body["orders"]] == [
        ("3870000000000000001", "unpaid", "128.50")
    ]
    assert (
        http("GET", f"{desk.desk_url}/api/customers/wechat:{buyer}/orders", headers=auth(agent_token))[1]["orders"]
        == []
    )


def test_weekly_report_shows_everyone_to_supervisors_and_agents_their_own_and_downloads_as_csv(stack: Stack):
    boss, password = new_agent(stack, role="supervisor")
    boss_token = http("POST", f"{stack.desk_url}/api/login", {"name": boss, "password": password})[1]["token"]
    # The session's database is shared with other tests: count this test's ticket as the difference.
    before = http("GET", f"{stack.desk_url}/api/reports/weekly", headers=auth(boss_token))[1]
    stack.say(new_sender("report-customer"), "客服态度太差了，我要投诉")
    # An agent gets their own figures only: a new agent has none, whatever the others did.
    newcomer, newcomer_password = new_agent(stack)
    newcomer_token = http("POST", f"{stack.desk_url}/api/login", {"name": newcomer, "password": newcomer_password})[1][
        "token"
    ]
    status, own = http("GET", f"{stack.desk_url}/api/reports/weekly", headers=auth(newcomer_token))
    assert status == 200 and own["scope"] == "own" and own["groups"] == [], own
    assert own["tickets"] == 0 and own["handoffs"] == 0 and own["agents"] == [], own
    status, report = http("GET", f"{stack.desk_url}/api/reports/weekly", headers=auth(boss_token))
    assert status == 200 and report["tickets"] == before["tickets"] + 1
    assert report["by_category"].get("服务态度", 0) == before["by_category"].get("服务态度", 0) + 1
    assert http("GET", f"{stack.desk_url}/api/reports/weekly?week=W99", headers=auth(boss_token))[0] == 400
    status, csv_text, headers = call("GET", f"{stack.desk_url}/api/reports/weekly?format=csv", headers=auth(boss_token))
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"] and "服务态度" in csv_text
    assert "按技能组" in csv_text and "平均等待(分钟)" in csv_text


def test_ticket_moves_over_the_api(stack: Stack, agent_token: str):
    sender = new_sender("move-customer")
    stack.say(sender, "快递太慢了，一个星期还没到，我要投诉")
    [t] = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(agent_token))[1]["tickets"]
    url = f"{stack.desk_url}/api/tickets/{t['id']}"
    assert http("POST", f"{url}/status", {"status": "resolved"}, headers=auth(agent_token))[0] == 409  # take first
    assert http("POST", f"{url}/take", headers=auth(agent_token))[0] == 200
    assert http("POST", f"{url}/status", {"status": "bogus"}, headers=auth(agent_token))[0] == 400
    status, moved = http("POST", f"{url}/status", {"status": "resolved", "note": "已补发"}, headers=auth(agent_token))
    assert status == 200 and moved["ticket"]["status"] == "resolved"
    status, detail = http("GET", url, headers=auth(agent_token))
    assert [e["to"] for e in detail["timeline"]] == ["in_progress", "resolved"]
    assert detail["timeline"][-1]["note"] == "已补发"


def test_closing_a_ticket_asks_the_customer_for_a_score_and_a_poor_one_reopens_it(stack: Stack, agent_token: str):
    sender = new_sender("survey-customer")
    stack.say(sender, "快递员态度很差，把东西扔在门口，我要投诉")
    [t] = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(agent_token))[1]["tickets"]
    url = f"{stack.desk_url}/api/tickets/{t['id']}"
    assert http("POST", f"{url}/take", headers=auth(agent_token))[0] == 200
    assert http("POST", f"{url}/status", {"status": "resolved"}, headers=auth(agent_token))[0] == 200
    status, closed = http("POST", f"{url}/status", {"status": "closed"}, headers=auth(agent_token))
    assert status == 200 and closed["survey_sent"] is True
    bot_texts = [e.get("text") or "" for e in stack.tracker(sender)["events"] if e["event"] == "bot"]
    assert any("回复数字 1-5" in text for text in bot_texts), bot_texts
    answer = "\n".join(stack.say(sender, "1"))
    assert "非常抱歉" in answer and "主管" in answer, answer
    status, detail = http("GET", url, headers=auth(agent_token))
    assert detail["ticket"]["status"] == "in_progress" and detail["ticket"]["owner_id"] is None


def test_closing_a_conversation_leaves_the_desk_and_the_bot_answers_again(stack: Stack, agent_token: str):
    other, other_password = new_agent(stack)
    other_token = http("POST", f"{stack.desk_url}/api/login", {"name": other, "password": other_password})[1]["token"]
    conversation = waiting_conversation(stack, agent_token)
    url = f"{stack.desk_url}/api/conversations/{conversation['id']}"
    assert http("POST", f"{url}/take", headers=auth(agent_token))[0] == 200
    assert http("POST", f"{url}/close", headers=auth(other_token))[0] == 403  # not theirs
    status, body = http("POST", f"{url}/close", headers=auth(agent_token))
    assert status == 200 and body["conversation"]["status"] == "closed"
    listed = http("GET", f"{stack.desk_url}/api/conversations?status=assigned", headers=auth(agent_token))[1]
    assert all(c["id"] != conversation["id"] for c in listed["conversations"])
    assert any("您好" in t for t in stack.say(conversation["customer_id"], "你好"))


def test_desk_pages_send_security_headers_and_the_widget_script_stays_embeddable(desk: Desk):
    for path in (
        "/login",
        "/desk",
        "/tickets",
        "/reports",
        "/knowledge",
        "/static/desk.js",
        "/api/me",
        "/api/nope",
        "/widget-demo",
    ):
        status, _, headers = call("GET", f"{desk.desk_url}{path}")
        policy = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, (path, policy)
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        if path != "/widget-demo":
            assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy, (path, policy)
    # The demo page's one inline script runs by a nonce that changes on every load,
    # and the widget on it may reach the Rasa server it chats with.
    status, page, headers = call("GET", f"{desk.desk_url}/widget-demo")
    policy = headers["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert (
        f'<script nonce="{nonce}">' in page
        and call("GET", f"{desk.desk_url}/widget-demo")[2]["Content-Security-Policy"] != policy
    )
    rasa_host = desk.rasa_url.split("://")[1]
    assert f"http://{rasa_host}" in policy and f"ws://{rasa_host}" in policy
    # Shops load the widget from their own pages: no frame or page policy on it.
    status, _, headers = call("GET", f"{desk.desk_url}/widget.js")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Content-Type-Options"] == "nosniff" and "javascript" in headers["Content-Type"]
    assert "X-Frame-Options" not in headers and "Content-Security-Policy" not in headers
    assert "Cross-Origin-Resource-Policy" not in headers


def test_a_watched_conversations_new_turn_arrives_from_rasas_events_not_the_slow_fallback(stack: Stack):
    """The page is woken by the event broker: a customer's message reaches
    it well inside the 10 s the desk would otherwise wait before reading the
    conversation again (kefu/desk/live_events.py FALLBACK_SECONDS)."""
    import asyncio
    import time

    import aiohttp

    from kefu.desk.live_events import FALLBACK_SECONDS

    name, password = new_agent(stack)
    cookie, _csrf = browser_login(stack, name, password)
    token = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
    conversation = waiting_conversation(stack, token)
    ws_url = stack.desk_url.replace("http://", "ws://") + "/api/live"

    async def scenario() -> float:
        async with (
            aiohttp.ClientSession(headers={"Cookie": cookie.split(";")[0]}) as client,
            client.ws_connect(ws_url) as ws,
        ):
            await ws.send_json({"watch": conversation["id"], "after": 0})
            async for msg in ws:  # the history so far
                if json.loads(msg.data)["type"] == "messages":
                    break
            await asyncio.sleep(1.0)  # the pass after the first read is asleep now
            sent = time.monotonic()
            await asyncio.to_thread(stack.say, conversation["customer_id"], "灯还是不亮，麻烦快点")
            async for msg in ws:
                data = json.loads(msg.data)
                if data["type"] == "messages" and any("灯还是不亮" in m["text"] for m in data["messages"]):
                    return time.monotonic() - sent
        raise AssertionError("the turn never arrived")

    took = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert took < FALLBACK_SECONDS / 2, f"{took:.1f} s: the page was not woken by the event"
