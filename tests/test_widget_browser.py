"""The web widget on a phone (390×844) in Debian's chromium: it greets once,
opens and closes from the page's own button, restores the conversation and
who serves it after a reload, and says "正在输入…" only while somebody is
really at work (the bot on an answer, an agent typing in the desk)."""

from __future__ import annotations

from pathlib import Path

from tests.support.agents import add_agent, login
from tests.support.browser import csp_violations, sign_in, widget_say
from tests.support.scaled_stack import http
from tests.support.stack import Stack, auth, wait_for

PHONE = {"width": 390, "height": 844}


def phone_page(browser, stack: Stack):
    page = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
    page.violations = csp_violations(page.context)
    page.goto(f"{stack.desk_url}/widget-demo")
    return page


def bot_texts(stack: Stack, session_id: str) -> list[str]:
    return [e["text"] for e in stack.tracker(session_id)["events"] if e["event"] == "bot" and e.get("text")]


def typing_text(page) -> str:
    return page.inner_text(".kefu-typing").strip()


def conversation_id(stack: Stack, token: str, customer: str) -> int:
    status, body = http("GET", f"{stack.desk_url}/api/conversations", headers=auth(token))
    assert status == 200, body
    return next(c["id"] for c in body["conversations"] if c["customer_id"] == customer)


def test_one_greeting_and_the_pages_own_button(stack: Stack, browser):
    page = phone_page(browser, stack)
    assert page.is_hidden(".kefu-panel")
    page.click("#contact")  # the page's 联系客服 button: KefuWidget.open()
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=欢迎光临")
    session_id = page.evaluate("window.kefu.sessionId")
    page.wait_for_selector(".kefu-status >> text=在线")
    # The bot's own greeting, once; nothing the customer said.
    assert page.locator(".kefu-log li").count() == 1
    assert len(bot_texts(stack, session_id)) == 1

    page.evaluate("KefuWidget.close()")
    assert page.is_hidden(".kefu-panel") and page.is_visible(".kefu-launch")
    page.evaluate("KefuWidget.open()")
    assert page.is_visible(".kefu-panel") and page.is_hidden(".kefu-launch")
    page.click(".kefu-head button[aria-label=关闭]")
    assert page.is_hidden(".kefu-panel")

    # Reopened, and after a reload: the same one greeting, from the history.
    page.reload()
    page.click(".kefu-launch")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=欢迎光临")
    # The customer's own "你好" gets a short answer, not the welcome again.
    widget_say(page, "你好")
    page.wait_for_selector(".kefu-log li.kefu-bot >> nth=1")
    assert "请问有什么可以帮您" in page.locator(".kefu-log li.kefu-bot").nth(1).inner_text()
    assert page.locator(".kefu-log li.kefu-bot", has_text="欢迎光临").count() == 1
    greetings = [t for t in bot_texts(stack, session_id) if t.startswith("您好，欢迎")]
    assert len(greetings) == 1, bot_texts(stack, session_id)
    # The bot answered: nobody is typing any more.
    assert typing_text(page) == ""
    assert page.violations == []


def test_reload_while_waiting_shows_history_and_queue(stack: Stack, browser):
    page = phone_page(browser, stack)
    page.click(".kefu-launch")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=欢迎光临")
    widget_say(page, "转人工")
    page.wait_for_selector(".kefu-status >> text=排队中，请稍候")
    # The bot is paused now: a message gets no "正在输入…" that nobody does.
    widget_say(page, "还有人在吗")
    assert typing_text(page) == ""

    page.reload()
    assert page.is_hidden(".kefu-panel")
    page.click(".kefu-launch")
    page.wait_for_selector(".kefu-status >> text=排队中，请稍候")
    page.wait_for_selector(".kefu-log li.kefu-me >> text=转人工")
    page.wait_for_selector(".kefu-log li.kefu-me >> text=还有人在吗")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=转接")
    assert page.violations == []


def test_reload_while_an_agent_serves_and_the_agent_types(stack: Stack, browser, shots: Path):
    # A name as agents have them: the screenshot goes into the docs.
    name, password = add_agent(stack.env, name="王芳")
    token = login(stack.desk_url, name, password)
    page = phone_page(browser, stack)
    page.click("#contact")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=欢迎光临")
    page.click(".kefu-quick button >> text=转人工")
    page.wait_for_selector(".kefu-status >> text=排队中")
    session_id = page.evaluate("window.kefu.sessionId")
    conversation = conversation_id(stack, token, session_id)
    taken = http("POST", f"{stack.desk_url}/api/conversations/{conversation}/take", headers=auth(token))
    assert taken[0] == 200, taken
    reply = "您好，我是客服，马上为您安排维修师傅，请问您的房号是多少？"
    sent = http("POST", f"{stack.desk_url}/api/conversations/{conversation}/reply", {"text": reply}, auth(token))
    assert sent[0] == 200, sent
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=马上为您安排维修师傅")

    page.reload()
    page.click(".kefu-launch")
    page.wait_for_selector(f".kefu-status >> text=客服 {name} 为您服务")
    answer = page.locator(".kefu-log li.kefu-bot", has_text="马上为您安排维修师傅")
    answer.wait_for()
    assert name in answer.inner_text()
    page.wait_for_selector(".kefu-log li.kefu-me >> text=转人工")
    page.screenshot(path=str(shots / "widget-reload-agent.png"))

    # While the agent serves, a customer message shows no made-up typing.
    widget_say(page, "3栋2单元501")
    assert typing_text(page) == ""

    # The agent types in the desk's reply box: the customer sees it, then the answer.
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 800}).new_page()
    sign_in(desk, stack.desk_url, name, password)
    desk.locator("#mine li", has_text=session_id).click()
    desk.wait_for_selector("#messages li.customer >> text=3栋2单元501")
    desk.type("#reply textarea", "好的，师傅二十分钟内到")
    page.wait_for_selector(f".kefu-typing >> text=客服 {name} 正在输入…")
    desk.keyboard.press("Enter")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=师傅二十分钟内到")
    assert wait_for(lambda: typing_text(page) == "", timeout=10)
    # And the other way: the customer types, the agent sees it (and it goes once they stop).
    page.type(".kefu-form .kefu-text", "好的谢谢")
    desk.wait_for_selector("#customer-typing >> text=客户正在输入…", timeout=10000)
    assert wait_for(lambda: desk.inner_text("#customer-typing") == "", timeout=20)
    assert page.violations == []


def test_a_suggested_question_is_one_tap_away(stack: Stack, browser, shots: Path):
    """猜您想问 on the widget: one button per question; a tap shows the
    question as the customer's message (it sends its number) and the answer follows."""
    page = phone_page(browser, stack)
    page.click(".kefu-launch")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=欢迎光临")
    widget_say(page, "退货的话送的东西也要寄回吗")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=您是不是想问")
    assert page.locator(".kefu-quick button").all_inner_texts()[-1] == "都不是"
    page.screenshot(path=str(shots / "widget-suggestions.png"))
    page.click(".kefu-quick button >> text=有赠品吗？")
    page.wait_for_selector(".kefu-log li.kefu-bot >> text=赠品一并退回")
    assert page.locator(".kefu-log li.kefu-me").last.inner_text() == "有赠品吗？"
    session_id = page.evaluate("window.kefu.sessionId")
    said = [e["text"] for e in stack.tracker(session_id)["events"] if e["event"] == "user"]
    assert said[-1] == "2", said
    assert page.violations == []
