"""An emergency in the agent's browser (Debian's chromium through Playwright):
customers already wait for a human when one writes "电梯困人了"; that
conversation appears at the top of the desk's queue with the 紧急 badge, its
first reply (the safety advice) is in the conversation, and its ticket carries
the badge in the ticket list. Screenshot: desk-queue-urgent.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.agents import add_agent
from tests.support.browser import csp_violations, sign_in
from tests.support.stack import Stack, new_sender, start_stack, stop_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A stack of its own: the queue holds only this module's conversations,
    so "at the top" means the top, whatever other modules left waiting."""
    running = start_stack(tmp_path_factory.mktemp("emergency-stack"), {"KEFU_REMINDER_WORKERS": "0"})
    yield running
    stop_stack(running)


def test_urgent_conversation_is_at_the_top_of_the_queue_with_its_badge(own_stack: Stack, browser, shots: Path):
    stack = own_stack
    name, password = add_agent(stack.env, prefix="browser-emergency")
    page = browser.new_page(locale="zh-CN", viewport={"width": 1200, "height": 800})
    violations = csp_violations(page.context)
    sign_in(page, stack.desk_url, name, password)

    waiting = [new_sender("customer"), new_sender("customer")]
    stack.say(waiting[0], "你好，我家厨房的水管漏水了")  # an ordinary repair …
    for customer in waiting:
        assert any("转接" in t for t in stack.say(customer, "转人工"))
    page.locator("#queue li", has_text=waiting[1]).wait_for(timeout=15000)
    assert page.locator("#queue .badge-urgent").count() == 0

    trapped = new_sender("lift")
    first = stack.say(trapped, "电梯困人了！！快来人 3号楼")[0]
    assert "不要强行扒门" in first
    top = page.locator("#queue li").first
    top.locator("text=" + trapped).wait_for(timeout=15000)
    assert "urgent" in (top.get_attribute("class") or "")
    assert top.locator(".badge-urgent").inner_text() == "紧急"
    assert page.locator("#queue li").count() == 3
    assert page.locator("#queue .badge-urgent").count() == 1

    top.click()
    page.wait_for_selector("#messages li.customer >> text=电梯困人了")
    page.wait_for_selector("#messages li.bot >> text=不要强行扒门")
    page.screenshot(path=str(shots / "desk-queue-urgent.png"))

    # The ticket list flags it too.
    page.goto(f"{stack.desk_url}/tickets")
    number = first.split("工单号：")[1][:8]
    row = page.locator("#tickets tbody tr", has_text=number)
    row.wait_for(timeout=15000)
    assert row.locator(".badge-urgent").inner_text() == "紧急"
    assert violations == []
