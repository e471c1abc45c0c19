"""The tickets page in Debian's chromium: a customer's 催单 on an overdue
ticket shows the owner a banner and puts the ticket on top with a badge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from kefu.core.db import make_engine
from kefu.core.models import Ticket, utcnow
from tests.support.agents import add_agent, login
from tests.support.browser import csp_violations, sign_in
from tests.support.stack import Stack, auth, http, new_sender


def test_a_chase_shows_the_owner_a_banner_and_the_ticket_on_top(stack: Stack, browser, shots: Path):
    name, password = add_agent(stack.env, "agent", "browser-chase")
    token = login(stack.desk_url, name, password)
    sender = new_sender("browser-chaser")
    stack.say(sender, "楼道垃圾三天没人清理了，臭气熏天，我要投诉")
    [ticket] = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(token))[1]["tickets"]
    assert http("POST", f"{stack.desk_url}/api/tickets/{ticket['id']}/take", headers=auth(token))[0] == 200
    with Session(make_engine(stack.database_url)) as session:
        session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(due_at=utcnow() - timedelta(hours=1)))
        session.commit()

    page = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 800}).new_page()
    violations = csp_violations(page.context)
    sign_in(page, stack.desk_url, name, password)
    page.goto(f"{stack.desk_url}/tickets")
    page.wait_for_selector(f"#tickets tbody tr >> text={ticket['number']}")
    page.check("input[name=mine]")
    page.click("#filters button[type=submit]")
    assert page.locator("#chase-banner").is_hidden()

    reply = "\n".join(stack.say(sender, "怎么还没人处理"))
    assert "加急" in reply, reply
    banner = page.locator("#chase-banner")
    banner.wait_for(state="visible", timeout=15000)
    assert "客户催单" in banner.inner_text() and ticket["number"] in banner.inner_text()
    first = page.locator("#tickets tbody tr").first
    first.locator(".chase-badge").wait_for(timeout=15000)
    assert ticket["number"] in first.inner_text() and "催单×1" in first.inner_text()
    first.click()
    page.wait_for_selector("#timeline li >> text=客户催促（第1次）")
    page.screenshot(path=str(shots / "desk-ticket-chase.png"))
    assert violations == []
