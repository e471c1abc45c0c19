"""The widget takes what every channel takes (5,000 characters), never cuts
a message, and tells the customer the limit when they go over (issue 11,
item 8). Driven in a real browser against the real stack."""

from __future__ import annotations

from kefu.text.received import MAX_TEXT_CHARS
from tests.support.browser import open_widget
from tests.support.stack import Stack, wait_for


def test_widget_sends_long_messages_whole_and_names_the_limit_when_over(stack: Stack, browser):
    page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 800}).new_page()
    page.goto(f"{stack.desk_url}/widget-demo")
    open_widget(page)
    session_id = page.evaluate("window.kefu.sessionId")
    box = page.locator(".kefu-form .kefu-text")

    # Over the limit: nothing is sent, the customer is told, the text stays.
    too_long = "漏" * (MAX_TEXT_CHARS + 1)
    box.fill(too_long)
    page.wait_for_selector(f".kefu-limit >> text=最多{MAX_TEXT_CHARS}字")
    assert f"当前{MAX_TEXT_CHARS + 1}字" in page.inner_text(".kefu-limit")
    box.press("Enter")
    assert box.input_value() == too_long
    assert page.locator(".kefu-log li.kefu-me").count() == 0

    # 600 characters (over the old maxLength of 500) go out whole.
    text = ("我家厨房的水管漏水了，" * 60)[:600]
    box.fill(text)
    assert page.inner_text(".kefu-limit") == ""
    box.press("Enter")
    assert box.input_value() == ""

    def user_texts():
        # Not the widget's request for its greeting on opening (metadata kefu_opening).
        events = stack.tracker(session_id)["events"]
        return [e["text"] for e in events if e["event"] == "user" and not (e.get("metadata") or {}).get("kefu_opening")]

    assert wait_for(lambda: user_texts() == [text], timeout=30), user_texts()
