"""The waiting room and the agent's workspace in Debian's chromium
(Playwright): a widget customer waiting with nobody online is told so and
answered while waiting; a supervisor's desk raises a red alert for an
emergency nobody can take, opens it, takes it, and 结束会话 asks first;
the search box finds a ticket by customer and opens it by its KF number."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.agents import add_agent
from tests.support.browser import csp_violations, open_widget, sign_in, widget_say
from tests.support.stack import Stack, auth, http, new_sender, start_stack, stop_stack, wait_for
from tests.test_routing_stack import clear_queue

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    """A stack of this module's own: these tests need to know who is at the
    desk (nobody, or exactly their agents), which the shared stack's other
    tests change (an agent who takes a conversation stays present a minute)."""
    running = start_stack(tmp_path_factory.mktemp("workspace-stack"), {"KEFU_REMINDER_WORKERS": "0"})
    yield running
    stop_stack(running)


def test_a_widget_customer_waiting_with_nobody_online_is_told_and_answered(stack: Stack, browser, shots: Path):
    clear_queue(stack)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 480, "height": 800})
    page = context.new_page()
    violations = csp_violations(context)
    try:
        page.goto(f"{stack.desk_url}/widget-demo")
        open_widget(page)
        widget_say(page, "转人工")
        page.wait_for_selector(".kefu-log li.kefu-bot >> text=人工客服暂时都不在线")
        widget_say(page, "还要等多久")
        # The waiting room's answer, pushed to the open widget (the bot itself is paused).
        answered = page.locator(".kefu-log li.kefu-bot", has_text="暂时都不在线")
        assert wait_for(lambda: answered.count() == 2, 15), page.inner_text(".kefu-log")
        widget_say(page, "留言：我想问下发票怎么开，电话13800138000")
        page.wait_for_selector(".kefu-log li.kefu-bot >> text=已为您留言", timeout=15000)
        page.screenshot(path=str(shots / "widget-waiting.png"))
        assert violations == []
    finally:
        context.close()


def test_a_supervisor_is_alerted_to_an_emergency_nobody_can_take_and_finds_tickets(stack: Stack, browser, shots: Path):
    clear_queue(stack)
    name, password = add_agent(stack.env, role="supervisor", prefix="值班主管")
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 760})
    page = context.new_page()
    violations = csp_violations(context)
    token = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
    try:
        sign_in(page, stack.desk_url, name, password)
        customer = new_sender("困人业主")
        stack.say(customer, "救命，我被困在电梯里了，3栋的电梯")
        page.wait_for_selector("#urgent-alert >> text=紧急会话无人接待", timeout=15000)
        assert customer in page.inner_text("#urgent-alert")
        page.screenshot(path=str(shots / "desk-urgent-alert.png"))
        page.click("#urgent-alert button")
        page.wait_for_selector("#messages li.customer >> text=困在电梯里")
        # However long the conversation, the reply box stays in the window.
        box = page.locator("#reply textarea").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 760, box
        assert page.locator("#resume").is_hidden()  # not held by anyone yet: nothing to hand back
        page.click("#take")
        page.wait_for_selector("#notice >> text=已接入")
        page.wait_for_selector("#resume:visible")
        # Messages carry their time.
        assert page.locator("#messages li.customer time").first.inner_text().count(":") == 1
        # 结束会话 asks first: dismissed, nothing happens; accepted, it ends.
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("#close")
        page.wait_for_timeout(500)
        listed = http("GET", f"{stack.desk_url}/api/conversations", headers=auth(token))[1]["conversations"]
        assert next(c for c in listed if c["customer_id"] == customer)["status"] == "assigned"
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#close")
        page.wait_for_selector("#notice >> text=会话已结束")
        page.wait_for_selector("#urgent-alert", state="hidden")

        # The search box: the customer's emergency ticket, opened by its KF number.
        page.fill("#search input[name=q]", customer)
        page.press("#search input[name=q]", "Enter")
        link = page.locator("#search-results a", has_text="KF")
        link.first.wait_for()
        number = link.first.inner_text()
        page.screenshot(path=str(shots / "desk-search.png"))
        link.first.click()
        page.wait_for_url("**/tickets?ticket=*")
        page.wait_for_selector(f"#detail-title >> text={number}")
        # The ticket page: who, where, how urgent, who owns it, and the way back to the conversation.
        fields = page.inner_text("#detail-fields")
        assert customer in fields and "紧急" in fields and "打开客户会话" in fields, fields
        page.screenshot(path=str(shots / "desk-ticket-page.png"))
        page.click("#detail-fields a")
        page.wait_for_url("**/desk?conversation=*")
        page.wait_for_selector("#messages li.customer >> text=困在电梯里")
        # Taking it earlier made this supervisor present: the selector says so.
        assert page.input_value("#presence") == "busy"
        page.goto(f"{stack.desk_url}/tickets")
        assert wait_for(lambda: "#" not in page.inner_text("#followups"), 5)
        assert violations == []
    finally:
        # Taking the emergency made the supervisor present (忙碌): gone now, for the next test.
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        context.close()


def login_page(browser, stack: Stack, name: str, password: str, notifications: bool = False):
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 860},
        permissions=["notifications"] if notifications else [],
    )
    page = context.new_page()
    sign_in(page, stack.desk_url, name, password)
    page.wait_for_selector(f"#me >> text={name}")
    return context, page


def test_an_agent_transfers_with_a_note_the_colleague_sees_it_first_and_the_customer_never(
    stack: Stack, browser, shots: Path
):
    clear_queue(stack)
    first_name, first_password = add_agent(stack.env, prefix="小张")
    second_name, second_password = add_agent(stack.env, prefix="小李")
    first_ctx, first = login_page(browser, stack, first_name, first_password)
    second_ctx, second = login_page(browser, stack, second_name, second_password, notifications=True)
    violations = csp_violations(first_ctx) + csp_violations(second_ctx)
    tokens = [
        http("POST", f"{stack.desk_url}/api/login", {"name": n, "password": p})[1]["token"]
        for n, p in ((first_name, first_password), (second_name, second_password))
    ]
    customer = new_sender("退款客户")
    try:
        first.select_option("#presence", "online")
        stack.say(customer, "订单的退款怎么还没到账")
        stack.say(customer, "转人工")
        first.locator("#mine li", has_text=customer).wait_for(timeout=15000)
        first.wait_for_selector("#messages li.customer >> text=退款")
        second.select_option("#presence", "online")
        second_id = http("GET", f"{stack.desk_url}/api/me", headers=auth(tokens[1]))[1]["id"]
        # The choice lists colleagues online when 转接 is clicked: after the status is saved.
        assert wait_for(lambda: me_agent(stack, tokens[0], second_id)["status"] == "online", 10)
        first.click("#transfer")
        first.wait_for_selector("#transfer-form:visible")
        assert wait_for(
            lambda: any(second_name in o for o in first.locator("#transfer-form option").all_inner_texts()), 10
        )
        first.select_option(
            "#transfer-form select",
            label=next(o for o in first.locator("#transfer-form option").all_inner_texts() if second_name in o),
        )
        first.fill("#transfer-form input[name=note]", "客户要求退款，订单已核实，请跟进到账时间")
        first.click("#transfer-form button[type=submit]")
        first.wait_for_selector("#notice >> text=已转接")
        # The colleague: the conversation arrives by itself, the note on top of the card.
        second.locator("#mine li", has_text=customer).wait_for(timeout=15000)
        second.wait_for_selector("#customer-notes li.transfer-note >> text=请跟进到账时间")
        second.fill("#note-form input[name=text]", "已联系财务小周，明天到账")
        second.click("#note-form button[type=submit]")
        second.wait_for_selector("#customer-notes li >> text=明天到账")
        second.screenshot(path=str(shots / "desk-transfer.png"))
        # The customer was told politely; no note ever reached them.
        said = [e.get("text") or "" for e in stack.tracker(customer)["events"] if e.get("event") == "bot"]
        assert any("转接" in t for t in said[-3:]), said
        assert not any("到账时间" in t or "小周" in t for t in said), said
        assert violations == []
    finally:
        for token in tokens:
            http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        first_ctx.close()
        second_ctx.close()


def test_my_conversations_show_unread_counts_and_a_background_message_notifies(stack: Stack, browser):
    clear_queue(stack)
    name, password = add_agent(stack.env, prefix="多会话")
    context, page = login_page(browser, stack, name, password, notifications=True)
    page.add_init_script(
        "window.__notified = []; const N = window.Notification;"
        "window.Notification = function (title, options) { window.__notified.push(title + '|' + options.body); };"
        "window.Notification.permission = 'granted'; window.Notification.requestPermission = () => Promise.resolve('granted');"
    )
    page.reload()
    page.wait_for_selector(f"#me >> text={name}")
    token = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
    first, second = new_sender("甲客户"), new_sender("乙客户")
    try:
        page.select_option("#presence", "online")
        stack.say(first, "转人工")
        page.locator("#mine li", has_text=first).wait_for(timeout=15000)
        page.wait_for_selector("#messages li.customer >> text=转人工")  # the first one opened by itself
        stack.say(second, "转人工")
        background = page.locator("#mine li", has_text=second)
        background.wait_for(timeout=15000)
        stack.say(second, "在吗，我的快递到哪了")
        background.locator(".unread >> text=1").wait_for(timeout=10000)
        assert "快递到哪了" in background.locator(".latest").inner_text()
        assert wait_for(lambda: any("快递到哪了" in n for n in page.evaluate("window.__notified")), 5)
        stack.say(first, "好的谢谢")  # the open conversation: read as it comes, no badge
        page.wait_for_selector("#messages li.customer >> text=好的谢谢")
        assert page.locator("#mine li", has_text=first).locator(".unread").count() == 0
        background.click()
        page.wait_for_selector("#messages li.customer >> text=快递到哪了")
        assert wait_for(lambda: background.locator(".unread").count() == 0, 5)
    finally:
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        context.close()


def me_agent(stack: Stack, token: str, agent_id: int) -> dict:
    return next(
        a for a in http("GET", f"{stack.desk_url}/api/agents", headers=auth(token))[1]["agents"] if a["id"] == agent_id
    )


def test_the_supervisors_wall_shows_load_and_queue_and_reassigns(stack: Stack, browser, shots: Path):
    from tests.test_routing_stack import conversation_of, me

    boss = clear_queue(stack)
    boss_name, boss_password = add_agent(stack.env, role="supervisor", prefix="主管")
    a_name, a_password = add_agent(stack.env, prefix="小周")
    b_name, b_password = add_agent(stack.env, prefix="小吴")
    a_token, b_token = (
        http("POST", f"{stack.desk_url}/api/login", {"name": n, "password": p})[1]["token"]
        for n, p in ((a_name, a_password), (b_name, b_password))
    )
    a_id, b_id = me(stack, a_token)["id"], me(stack, b_token)["id"]
    http("PUT", f"{stack.desk_url}/api/agents/{a_id}", {"capacity": 1}, headers=auth(boss))
    http("POST", f"{stack.desk_url}/api/me/status", {"status": "online"}, headers=auth(a_token))
    first, second = new_sender("墙客户甲"), new_sender("墙客户乙")
    context, page = login_page(browser, stack, boss_name, boss_password)
    violations = csp_violations(context)
    try:
        stack.say(first, "转人工")
        assert wait_for(lambda: (conversation_of(stack, a_token, first) or {}).get("assignee_id") == a_id, 10)
        stack.say(second, "转人工")  # 小周 is full: 乙 waits
        page.goto(f"{stack.desk_url}/wall")
        row = page.locator("#wall-agents tr", has_text=a_name)
        row.locator("text=1 / 1").wait_for(timeout=10000)
        assert "在线" in row.inner_text()
        page.locator("#wall-unanswered tr", has_text=second).locator("text=排队中").wait_for()
        page.locator("#wall-unanswered tr", has_text=first).locator(f"text={a_name}").wait_for()
        page.locator("#wall-groups tr", has_text="售前咨询").locator("td >> nth=1 >> text=1").wait_for()
        page.screenshot(path=str(shots / "desk-wall.png"))
        # More room for 小周: routing gives them 乙 by itself.
        row.locator("input[type=number]").fill("2")
        row.locator("input[type=number]").dispatch_event("change")
        assert wait_for(lambda: (conversation_of(stack, a_token, second) or {}).get("assignee_id") == a_id, 10)
        # 小吴 comes online; the supervisor moves 甲 to them from the wall.
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "online"}, headers=auth(b_token))
        pick = page.locator("#wall-unanswered tr", has_text=first).locator("select")
        assert wait_for(lambda: any(b_name in o for o in pick.locator("option").all_inner_texts()), 10)
        pick.select_option(label=next(o for o in pick.locator("option").all_inner_texts() if b_name in o))
        assert wait_for(lambda: (conversation_of(stack, b_token, first) or {}).get("assignee_id") == b_id, 10)
        # Working hours from the wall: 售前咨询 closed on Sundays.
        page.locator("#wall-groups tr", has_text="售前咨询").locator("button").click()
        assert page.input_value("#group-edit input[name=intents]") == "inquiry,request_human"
        page.fill("#group-edit input[name=sun]", "")
        page.click("#group-edit button[type=submit]")
        page.wait_for_selector("#group-edit", state="hidden")
        [group] = [
            g
            for g in http("GET", f"{stack.desk_url}/api/groups", headers=auth(boss))[1]["groups"]
            if g["name"] == "售前咨询"
        ]
        assert "sun" not in group["hours"] and group["hours"]["mon"] == [["00:00", "24:00"]]
        assert group["intents"] == ["inquiry", "request_human"]  # what the form did not change stays
        # 小吴 serves 售后 only, set from the wall.
        page.once("dialog", lambda dialog: dialog.accept("售后"))
        page.locator("#wall-agents tr", has_text=b_name).locator("button").click()
        assert wait_for(lambda: me_agent(stack, boss, b_id)["groups"] == ["售后"], 10)
        assert violations == []
    finally:
        all_day = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        [group] = [
            g
            for g in http("GET", f"{stack.desk_url}/api/groups", headers=auth(boss))[1]["groups"]
            if g["name"] == "售前咨询"
        ]
        http(
            "PUT",
            f"{stack.desk_url}/api/groups/{quote('售前咨询')}",
            {**{k: group[k] for k in ("intents", "categories", "channels", "holidays")}, "hours": all_day},
            headers=auth(boss),
        )
        for customer in (first, second):  # nothing of this test left in the shared queue
            found = conversation_of(stack, boss, customer)
            if found and found["status"] in ("waiting", "assigned"):
                http("POST", f"{stack.desk_url}/api/conversations/{found['id']}/close", headers=auth(boss))
        for token in (a_token, b_token):
            http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        context.close()
