"""Routing in the agent's browser (Debian's chromium through Playwright): the
agent sets 在线 in the desk; a customer asks for a human and the
conversation arrives in 我的会话 by itself, opens, with a notice, a desktop
notification and the page title blinking; 离线 stops new work."""

from __future__ import annotations

from pathlib import Path

from tests.support.agents import add_agent
from tests.support.browser import csp_violations, sign_in
from tests.support.stack import Stack, auth, http, new_sender, wait_for
from tests.test_routing_stack import clear_queue


def test_a_handoff_arrives_by_itself_for_an_online_agent(stack: Stack, browser, shots: Path):
    clear_queue(stack)
    name, password = add_agent(stack.env, prefix="routed-browser")
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1200, "height": 800}, permissions=["notifications"]
    )
    page = context.new_page()
    violations = csp_violations(context)
    # Count the desktop notifications the page raises.
    page.add_init_script(
        "window.__notified = []; const N = window.Notification;"
        "window.Notification = function (title, options) { window.__notified.push(options.body); return new N(title, options); };"
        "window.Notification.permission = 'granted'; window.Notification.requestPermission = N.requestPermission.bind(N);"
    )
    sign_in(page, stack.desk_url, name, password)
    page.wait_for_selector(f"text={name}")
    assert wait_for(lambda: page.input_value("#presence") == "offline", 10)  # read from /api/agents
    page.select_option("#presence", "online")
    token = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
    me = http("GET", f"{stack.desk_url}/api/me", headers=auth(token))[1]["id"]

    def my_status() -> str:
        agents = http("GET", f"{stack.desk_url}/api/agents", headers=auth(token))[1]["agents"]
        return next(a["status"] for a in agents if a["id"] == me)

    assert wait_for(lambda: my_status() == "online", 10)
    customer = new_sender("routed-customer")
    try:
        stack.say(customer, "你好，发票怎么开")
        stack.say(customer, "转人工")
        page.locator("#mine li", has_text=customer).wait_for(timeout=15000)
        page.wait_for_selector("#notice >> text=已分配给您")
        # Nothing else was open: the new conversation opens by itself.
        page.wait_for_selector("#messages li.customer >> text=发票怎么开")
        assert page.evaluate("window.__notified.length") == 1, page.evaluate("window.__notified")
        assert customer in page.evaluate("window.__notified[0]")
        page.screenshot(path=str(shots / "desk-routing.png"))
        page.fill("#reply textarea", "您好，电子发票在订单详情里就能申请，我来帮您看一下。")
        page.keyboard.press("Enter")
        page.wait_for_selector("#messages li.agent >> text=电子发票")
        page.select_option("#presence", "offline")
        assert wait_for(lambda: my_status() == "offline", 10)
        assert violations == []
    finally:
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        context.close()
