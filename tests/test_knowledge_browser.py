"""The 知识库 page in a real browser (Debian's chromium): a supervisor adds an
entry with the form, finds it by search, edits it and disables it; an agent
sees the entries but no way to change them. No CSP violation."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.support.browser import csp_violations
from tests.support.desk import Desk


def signed_in(browser, desk: Desk, role: str):
    name, password = desk.add_agent(role, f"kb-{role}")
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    violations = csp_violations(page.context)
    page.goto(f"{desk.desk_url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/desk")
    page.goto(f"{desk.desk_url}/knowledge")
    return page, violations


def test_a_supervisor_maintains_the_knowledge_base(desk: Desk, browser, shots: Path):
    page, violations = signed_in(browser, desk, "supervisor")
    tag = uuid.uuid4().hex[:4]
    page.click("#add")
    page.fill("#editor input[name=question]", f"羊毛大衣{tag}可以机洗吗？")
    page.fill("#editor textarea[name=similar]", f"大衣{tag}能不能用洗衣机洗\n羊毛大衣{tag}怎么洗")
    page.fill("#editor textarea[name=answer]", "亲，羊毛大衣建议干洗，请勿机洗或暴晒。")
    page.fill("#editor input[name=tags]", "洗涤，售后")
    page.click("#editor button[type=submit]")
    page.wait_for_selector("#notice >> text=已保存")
    assert page.is_hidden("#editor")

    page.fill("#search input[name=q]", f"大衣{tag}")
    page.click("#search button[type=submit]")
    row = page.locator("#entries tbody tr", has_text=f"羊毛大衣{tag}可以机洗吗？")
    row.wait_for()
    assert page.locator("#entries tbody tr").count() == 1
    assert "洗涤，售后" in row.inner_text() and "启用" in row.inner_text()
    page.screenshot(path=str(shots / "knowledge.png"), full_page=True)

    row.locator("button >> text=编辑").click()
    assert page.input_value("#editor textarea[name=similar]") == f"大衣{tag}能不能用洗衣机洗\n羊毛大衣{tag}怎么洗"
    page.fill("#editor textarea[name=answer]", "亲，羊毛大衣请干洗；轻微污渍可用湿布轻擦。")
    page.click("#editor button[type=submit]")
    page.wait_for_selector("#entries tbody tr >> text=轻微污渍可用湿布轻擦")

    row.locator("button >> text=停用").click()
    page.wait_for_selector("#notice >> text=已停用")
    assert "停用" in page.locator("#entries tbody tr", has_text=f"羊毛大衣{tag}").inner_text()
    # A duplicate question is refused with a clear message.
    page.click("#add")
    page.fill("#editor input[name=question]", f"羊毛大衣{tag}可以机洗吗？")
    page.fill("#editor textarea[name=answer]", "重复")
    page.click("#editor button[type=submit]")
    page.wait_for_selector("#notice >> text=已有相同的标准问题")
    assert violations == []


def test_an_agent_reads_but_cannot_edit(desk: Desk, browser):
    page, violations = signed_in(browser, desk, "agent")
    page.wait_for_selector("#notice >> text=知识库由主管维护")
    assert page.is_hidden("#add")
    page.wait_for_selector("#count >> text=共")
    assert page.locator("#entries tbody button").count() == 0
    assert violations == []
