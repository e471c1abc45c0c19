"""The 知识库 page in a real browser (Debian's chromium): a supervisor adds an
entry with the form, finds it by search, edits it and disables it; an agent
sees the entries but no way to change them. No CSP violation."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.support.browser import csp_violations, sign_in
from tests.support.desk import Desk


def signed_in(browser, desk: Desk, role: str):
    name, password = desk.add_agent(role, f"kb-{role}")
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    violations = csp_violations(page.context)
    sign_in(page, desk.desk_url, name, password)
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
    # The saved entry is already in the full list: wait for the search's answer.
    expect(page.locator("#entries tbody tr")).to_have_count(1)
    row.wait_for()
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


def test_a_supervisor_teaches_what_the_bot_missed(desk: Desk, browser, shots: Path):
    from sqlalchemy.orm import Session

    from kefu.core import knowledge, learning
    from kefu.core.db import make_engine

    tag = uuid.uuid4().hex[:4]
    engine = make_engine(desk.database_url)
    with Session(engine, future=True) as s:
        knowledge.add_entry(s, {"question": f"支持{tag}花呗分期吗？", "answer": "亲，支持花呗分期。"}, "boss")
        texts = [f"能用{tag}花呗分期付吗", f"我想投诉{tag}快递员态度", f"{tag}asdfgh"]
        for text, times in zip(texts, (3, 2, 1), strict=True):
            for _ in range(times):
                learning.record(s, learning.Seen(text, "no_kb_answer", "taobao", "inquiry", 0.41))
    engine.dispose()

    page, violations = signed_in(browser, desk, "supervisor")
    page.goto(f"{desk.desk_url}/learning")
    first = page.locator("#items tbody tr", has_text=texts[0])
    first.wait_for()
    assert "3" in first.locator("td").nth(1).inner_text() and "知识库无答案" in first.inner_text()
    first.locator("select.kb-pick option", has_text=f"支持{tag}花呗分期吗？").wait_for(state="attached")
    page.screenshot(path=str(shots / "learning.png"), full_page=True)
    first.locator("select.kb-pick").select_option(label=first.locator("select.kb-pick option").nth(1).inner_text())
    first.locator("button >> text=加入").click()
    page.wait_for_selector("#notice >> text=已加入知识库")

    second = page.locator("#items tbody tr", has_text=texts[1])
    second.locator("select.intent").select_option("complaint")
    second.locator("button >> text=标注").click()
    page.wait_for_selector("#notice >> text=已标注")
    page.locator("#items tbody tr", has_text=texts[2]).locator("button >> text=忽略").click()
    page.wait_for_selector("#notice >> text=已忽略")
    assert page.locator("#items tbody tr", has_text=tag).count() == 0  # none open any more

    page.goto(f"{desk.desk_url}/knowledge")
    page.fill("#search input[name=q]", f"{tag}花呗")
    page.click("#search button[type=submit]")
    page.wait_for_selector(f"#entries tbody tr >> text=能用{tag}花呗分期付吗")
    assert violations == []


def test_a_supervisor_sees_the_gate_and_rolls_back(desk: Desk, browser, shots: Path):
    from sqlalchemy.orm import Session

    from kefu.core import model_registry
    from kefu.core.db import make_engine

    tag = uuid.uuid4().hex[:4]
    figures = {"heldout_accuracy": 0.97, "heldout_n": 372, "new_correct": 3, "new_n": 3}
    engine = make_engine(desk.database_url)
    with Session(engine, future=True) as s:
        jobs = []
        for name, f1 in ((f"base-{tag}.tar.gz", 0.9663), (f"kefu-{tag}.tar.gz", 0.9688)):
            job = model_registry.start_training(s, "boss")
            live = {**figures, "heldout_macro_f1": f1 - 0.002}
            model_registry.make_live(
                s,
                job.id,
                file=name,
                reason="测试集 macro-F1 不低于在用模型",
                metrics={**figures, "heldout_macro_f1": f1, "live": live},
            )
            jobs.append(job.id)
        bad = model_registry.start_training(s, "boss")
        model_registry.reject(
            s,
            bad.id,
            "测试集 macro-F1 从 0.9688 降到 0.8012，下降 16.8 个点，超过允许的 1 个点",
            {**figures, "heldout_macro_f1": 0.8012, "new_correct": 1, "live": {**figures, "heldout_macro_f1": 0.9688}},
        )
    engine.dispose()
    (Path(desk.env["KEFU_MODELS_DIR"]) / f"base-{tag}.tar.gz").write_bytes(b"x")

    page, violations = signed_in(browser, desk, "supervisor")
    page.goto(f"{desk.desk_url}/learning")
    rejected = page.locator("#models tbody tr", has_text="下降 16.8 个点")
    rejected.wait_for()
    assert "未通过" in rejected.inner_text() and "0.8012（原 0.9688）" in rejected.inner_text()
    assert rejected.locator("button").count() == 0  # a rejected model cannot go live
    status = lambda job: page.locator(f"#models tbody tr[data-id='{job}'] td:nth-child(3)")  # noqa: E731
    status(jobs[1]).filter(has_text="在用").wait_for()
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f"#models tbody tr[data-id='{jobs[0]}']").locator("button >> text=回滚到此模型").click()
    page.wait_for_selector(f"#train-state >> text=模型 {jobs[0]} 已上线")
    status(jobs[0]).filter(has_text="在用").wait_for()
    assert status(jobs[1]).inner_text() == "已替换（可回滚）"
    assert desk.models_loaded[-1].endswith(f"base-{tag}.tar.gz")  # Rasa's PUT /model
    page.locator("#models-section").screenshot(path=str(shots / "learning-models.png"))
    assert violations == []
