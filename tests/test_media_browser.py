"""A photo in a real browser (Debian's chromium through Playwright): a
customer on a phone-sized page complains in the widget, adds a photo with
the 图片 button, sees it and the acknowledgement naming their ticket; the
customer asks for a human and the agent sees the photo beside the
conversation, and a second photo appears there while the conversation is
open; a supervisor opens the ticket in the desk and sees it there. Both pages run
under their Content-Security-Policy without a violation."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.agents import add_agent
from tests.support.browser import csp_violations, open_widget, sign_in, widget_say
from tests.support.media import png_bytes
from tests.support.stack import Stack


def loaded(page, selector: str) -> bool:
    """The picture was fetched and decoded (not a broken-image icon)."""
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_a_widget_photo_shows_on_the_desk_ticket_page(stack: Stack, browser, shots: Path):
    widget = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    widget_violations = csp_violations(widget.context)
    widget.goto(f"{stack.desk_url}/widget-demo")
    open_widget(widget)
    widget_say(widget, "物业维修太慢了，报修三天都没人来，我要投诉")
    told = widget.locator(".kefu-log li.kefu-bot", has_text=re.compile(r"KF\d{6}"))
    told.wait_for(timeout=30000)
    number = re.search(r"KF\d{6}", told.first.inner_text()).group(0)

    photo = png_bytes(240, 160, (40, 140, 90))
    widget.set_input_files(
        ".kefu-form input[type=file]", files=[{"name": "楼道.png", "mimeType": "image/png", "buffer": photo}]
    )
    widget.wait_for_selector(f".kefu-log li.kefu-bot >> text=已收到您的图片，已补充到工单{number}，我们会尽快处理。")
    widget.wait_for_selector(".kefu-log li.kefu-photo img")
    assert loaded(widget, ".kefu-log li.kefu-photo img")
    widget.screenshot(path=str(shots / "widget-photo.png"))

    name, password = add_agent(stack.env, "supervisor", "browser-media")
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 800}).new_page()
    desk_violations = csp_violations(desk.context)
    sign_in(desk, stack.desk_url, name, password)
    # The customer asks for a human: the agent sees the photo beside the conversation.
    session_id = widget.evaluate("window.kefu.sessionId")
    widget.click(".kefu-quick button >> text=转人工")
    desk.locator("#queue li", has_text=session_id).click()
    desk.wait_for_selector("#customer-media img")
    assert loaded(desk, "#customer-media img")
    # A second photo while the agent has the conversation open: it appears without a reload.
    widget.set_input_files(
        ".kefu-form input[type=file]",
        files=[{"name": "门口.png", "mimeType": "image/png", "buffer": png_bytes(200, 150, (200, 90, 40))}],
    )
    desk.locator("#customer-media img").nth(1).wait_for(timeout=20000)
    desk.wait_for_selector("#notice >> text=客户发来了新的图片或文件")
    desk.screenshot(path=str(shots / "desk-conversation-photo.png"))

    desk.goto(f"{stack.desk_url}/tickets")
    desk.locator("#tickets tbody tr", has_text=number).click()
    desk.wait_for_selector("#detail-media img")
    assert loaded(desk, "#detail-media img")
    desk.wait_for_selector("#timeline >> text=客户补充了图片")
    desk.locator("#detail").scroll_into_view_if_needed()
    desk.screenshot(path=str(shots / "ticket-photo.png"), full_page=True)
    assert widget_violations == [] and desk_violations == []
