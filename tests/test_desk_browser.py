"""The desk driven in a real browser (Debian's chromium through Playwright):
an agent logs in, a handed-off conversation appears in the queue, the agent
takes it over and replies, the bot stays silent, the agent returns it to the
bot and the bot answers again. Every page works under its Content-Security-Policy
(the browser reports no violation), the widget works on another site's page,
and the desk cannot be framed by one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.agents import add_agent
from tests.support.browser import csp_violations, open_widget, sign_in, widget_say
from tests.support.stack import Stack, new_sender, wait_for


def test_agent_takes_over_replies_and_returns_the_conversation(stack: Stack, browser, shots: Path):
    name, password = add_agent(stack.env, prefix="browser-agent")

    page = browser.new_page(locale="zh-CN", viewport={"width": 1200, "height": 800})
    violations = csp_violations(page.context)
    page.goto(f"{stack.desk_url}/desk")
    page.wait_for_url("**/login")  # not signed in yet
    page.fill("input[name=name]", "nobody")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    page.wait_for_selector("text=账号或密码不正确")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/desk")
    page.wait_for_selector(f"text={name}")

    customer = new_sender("browser-customer")
    stack.say(customer, "你好，我家厨房的水管漏水了")
    assert any("转接" in t or "人工" in t for t in stack.say(customer, "转人工"))
    entry = page.locator("#queue li", has_text=customer)
    entry.wait_for(timeout=15000)
    page.screenshot(path=str(shots / "desk-queue.png"))

    entry.click()
    page.wait_for_selector("#messages li.customer >> text=厨房的水管漏水了")
    page.click("#take")
    page.wait_for_selector("text=已接入")
    page.click("#canned button >> text=问候")  # 快捷回复 from the seed's etiquette
    assert "欢迎光临" in page.input_value("#reply textarea")
    page.fill("#reply textarea", "您好，我是客服，马上为您安排维修师傅，请问您的房号是多少？")
    page.keyboard.press("Enter")
    page.wait_for_selector("#messages li.agent >> text=马上为您安排维修师傅")
    page.screenshot(path=str(shots / "desk-conversation.png"))

    # The agent's reply is in the customer's conversation; the bot says nothing meanwhile.
    events = stack.tracker(customer)["events"]
    assert any(e["event"] == "bot" and "维修师傅" in (e.get("text") or "") for e in events)
    assert stack.say(customer, "3栋2单元501") == []

    page.click("#resume")
    page.wait_for_selector("text=已交还机器人")
    assert wait_for(lambda: page.locator("#queue li", has_text=customer).count() == 0, timeout=10)
    assert any("您好" in t for t in stack.say(customer, "你好"))
    assert violations == []


def login(browser, stack: Stack, role: str = "agent"):
    name, password = add_agent(stack.env, role, f"browser-{role}")
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 800}).new_page()
    desk.violations = csp_violations(desk.context)
    sign_in(desk, stack.desk_url, name, password)
    return desk, name


def test_widget_customer_is_served_by_an_agent_then_by_the_bot_again(stack: Stack, browser, shots: Path):
    desk, agent_name = login(browser, stack)
    # A phone-sized customer page, as in WeChat's in-app browser.
    widget = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 800}).new_page()
    widget_violations = csp_violations(widget.context)
    widget.goto(f"{stack.desk_url}/widget-demo")
    open_widget(widget)
    # The welcome first: a "你好" sent before it arrives is answered by that
    # one welcome (the widget greets once), and there would be no second turn.
    widget.wait_for_selector(".kefu-log li.kefu-bot >> text=欢迎光临")
    widget_say(widget, "你好")
    widget.wait_for_selector(".kefu-log li.kefu-bot >> nth=1")
    widget.click(".kefu-quick button >> text=转人工")
    widget.wait_for_selector(".kefu-log li.kefu-bot >> text=转接")
    session_id = widget.evaluate("window.kefu.sessionId")
    widget.screenshot(path=str(shots / "widget.png"))

    entry = desk.locator("#queue li", has_text=session_id)
    entry.wait_for(timeout=15000)
    entry.click()
    desk.click("#take")
    widget.wait_for_selector(f".kefu-status >> text=人工客服 {agent_name} 为您服务")
    desk.fill("#reply textarea", "您好，我是人工客服，请问有什么可以帮您？")
    desk.keyboard.press("Enter")
    reply = widget.locator(".kefu-log li.kefu-bot", has_text="我是人工客服")
    reply.wait_for(timeout=15000)
    assert agent_name in reply.inner_text()

    # While the agent serves, the bot is silent.
    bot_count = widget.locator(".kefu-log li.kefu-bot").count()
    widget_say(widget, "好的，我想问一下物业费")
    desk.wait_for_selector("#messages li.customer >> text=物业费")
    assert widget.locator(".kefu-log li.kefu-bot").count() == bot_count
    widget.screenshot(path=str(shots / "widget-agent.png"))

    desk.click("#resume")
    widget.wait_for_selector(".kefu-log >> text=智能客服继续为您服务")
    # A reload keeps the session (localStorage + socket.io session_request).
    widget.reload()
    assert widget.evaluate("window.kefu.sessionId") == session_id
    open_widget(widget)
    # Counted once the restored history is in: its turns arrive after the
    # panel opens and must not pass for the bot's answer.
    widget.wait_for_selector(".kefu-log li.kefu-bot >> text=我是人工客服")
    before = widget.locator(".kefu-log li.kefu-bot").count()
    widget_say(widget, "你好")
    assert wait_for(lambda: widget.locator(".kefu-log li.kefu-bot").count() > before, timeout=30)
    assert wait_for(
        lambda: [e for e in stack.tracker(session_id)["events"] if e["event"] == "user"][-1]["text"] == "你好", 30
    )
    assert desk.violations == [] and widget_violations == []


def test_supervisor_pages_tickets_and_weekly_report(stack: Stack, browser, shots: Path):
    stack.say(new_sender("browser-ticket"), "物业维修太慢了，报修三天都没人来，我要投诉")
    page, _ = login(browser, stack, role="supervisor")
    page.goto(f"{stack.desk_url}/tickets")
    page.wait_for_selector("#tickets tbody tr")
    assert "剩余" in page.inner_text("#tickets tbody")  # SLA countdown
    page.locator("#tickets tbody tr").first.click()
    page.wait_for_selector("#moves button")
    page.screenshot(path=str(shots / "tickets.png"))
    page.goto(f"{stack.desk_url}/reports")
    page.wait_for_selector("#by_category .bar")
    assert "工单" in page.inner_text("#totals")
    page.screenshot(path=str(shots / "reports.png"))
    assert page.violations == []


def test_widget_works_on_another_site_which_cannot_frame_the_desk(stack: Stack, browser, tmp_path):
    """A shop's page on its own origin embeds the widget script, and tries
    to show the desk in a frame (clickjacking): the widget works, the frame stays empty."""
    shop_page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>某某商城</title></head>
<body><h1>某某商城</h1><iframe id="desk" src="{stack.desk_url}/login" width="600" height="300"></iframe>
<script src="{stack.desk_url}/widget.js"></script>
<script>window.kefu = KefuWidget.init({{server: "{stack.rasa_url}", title: "在线客服"}});</script>
</body></html>""".encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(shop_page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 800})
        violations = csp_violations(context)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        open_widget(page)
        widget_say(page, "你好")
        page.wait_for_selector(".kefu-log li.kefu-bot >> nth=1")
        frame = page.frame_locator("#desk")
        assert wait_for(lambda: any("frame-ancestors" in v for v in violations), timeout=10), violations
        assert frame.locator("input[name=password]").count() == 0
        page.screenshot(path=str(tmp_path / "widget-elsewhere.png"))
        context.close()
    finally:
        server.shutdown()
