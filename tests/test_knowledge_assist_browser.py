"""Agent assist in a real browser: the desk conversation shows the knowledge
base's best answers to the customer's latest message, and one click puts an
answer into the reply box for the agent to edit before sending."""

from __future__ import annotations

from pathlib import Path

from tests.support.agents import add_agent
from tests.support.browser import csp_violations, open_widget, sign_in, widget_say
from tests.support.stack import Stack, new_sender


def test_the_desk_suggests_knowledge_base_answers(stack: Stack, browser, shots: Path):
    name, password = add_agent(stack.env, prefix="assist-agent")
    customer = new_sender("assist")
    stack.say(customer, "转人工")
    stack.say(customer, "我在新疆 你们家包邮不")

    page = browser.new_page(locale="zh-CN", viewport={"width": 1200, "height": 900})
    violations = csp_violations(page.context)
    sign_in(page, stack.desk_url, name, password)
    page.locator("#queue li", has_text=customer).click()
    first = page.locator("#kb-suggest li").first
    first.wait_for(timeout=15000)
    assert "包邮吗？" in first.inner_text()
    assert page.locator("#kb-suggest li").count() <= 3
    page.screenshot(path=str(shots / "desk-kb-suggest.png"))
    first.locator("button >> text=使用").click()
    reply = page.input_value("#reply textarea")
    assert "包邮" in reply and reply == first.locator("span").inner_text()
    assert violations == []


def test_the_widget_asks_whether_the_answer_helped(stack: Stack, browser, shots: Path):
    widget = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    violations = csp_violations(widget.context)
    widget.goto(f"{stack.desk_url}/widget-demo")
    open_widget(widget)
    widget_say(widget, "亲 你们家包邮吗")
    widget.wait_for_selector(".kefu-log li.kefu-bot >> text=这个回答解决您的问题了吗")
    widget.wait_for_selector(".kefu-quick button >> text=没解决")
    widget.screenshot(path=str(shots / "widget-kb-feedback.png"))
    widget.click(".kefu-quick button >> text=没解决")
    widget.wait_for_selector(".kefu-log li.kefu-bot >> text=需要为您转接人工客服吗")
    widget.wait_for_selector(".kefu-log li.kefu-me >> text=没解决")
    assert violations == []
