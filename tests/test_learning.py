"""待学习: what the bot did not understand is kept masked and grouped, and a
supervisor labels it, attaches it to a knowledge-base entry (live at once)
or ignores it, through `/api/learning`."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from kefu.core import knowledge, learning
from kefu.core.db import make_engine, upgrade
from kefu.core.errors import BadRequest
from tests.support.desk import Desk
from tests.support.stack import auth, http


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'learn.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, future=True) as s:
        yield s
    engine.dispose()


def seen(text: str, reason: str = "fallback", **kw) -> learning.Seen:
    return learning.Seen(text=text, reason=reason, channel=kw.pop("channel", "wechat"), **kw)


def test_near_duplicates_share_an_item_and_personal_data_is_masked(session):
    first = learning.record(session, seen("你好，我的电话13812345678 订单2026113012345678 怎么还没到", confidence=0.31))
    assert first is not None
    assert "13812345678" not in first.text and "138****5678" in first.text
    assert "2026113012345678" not in first.text and "2026******" in first.text
    again = learning.record(session, seen("我的电话13987654321 订单2026120198765432 怎么还没到？？"))
    assert again.id == first.id
    [item] = learning.list_items(session)
    assert item.count == 2 and len(item.examples) == 2
    assert all("1398765" not in e for e in item.examples)
    assert learning.record(session, seen("？？？ 😀")) is None
    with pytest.raises(ValueError):
        learning.record(session, seen("x", reason="bored"))


def test_the_most_frequent_come_first_and_labels_become_training_data(session):
    rare = learning.record(session, seen("能开增值税专票吗", reason="no_kb_answer", predicted_intent="inquiry"))
    for _ in range(3):
        learning.record(session, seen("你们家老板在不在"))
    assert [i.text for i in learning.list_items(session)] == ["你们家老板在不在", "能开增值税专票吗"]
    learning.label(session, rare.id, "inquiry", "boss")
    assert [(x.text, x.intent) for x in learning.labelled_examples(session)] == [("能开增值税专票吗", "inquiry")]
    assert [i.status for i in learning.list_items(session, "labelled")] == ["labelled"]
    with pytest.raises(BadRequest):
        learning.label(session, rare.id, "nlu_fallback", "boss")


def test_attaching_makes_it_a_similar_question(session):
    entry = knowledge.add_entry(session, {"question": "可以开发票吗？", "answer": "可以的。"}, "boss")
    before = knowledge.revision(session)
    item = learning.record(session, seen("能给开个票不", reason="no_kb_answer"))
    learning.attach(session, item.id, entry.id, "boss")
    session.expire_all()
    assert "能给开个票不" in knowledge.list_entries(session)[0].similar
    assert knowledge.revision(session) > before  # every action server rebuilds its index
    assert learning.list_items(session, "attached")[0].kb_entry_id == entry.id


def test_the_api_is_for_supervisors(desk: Desk):
    from kefu.core.db import make_engine as engine_for

    text = f"我要找{uuid.uuid4().hex[:6]}经理"
    engine = engine_for(desk.database_url)
    with Session(engine, future=True) as s:
        item_id = learning.record(s, seen(text, predicted_intent="request_human", confidence=0.42)).id
        entry_id = knowledge.add_entry(s, {"question": f"{text}？", "answer": "好的。"}, "boss").id
    engine.dispose()
    boss, agent = desk.token("supervisor"), desk.token("agent")
    assert http("GET", f"{desk.desk_url}/api/learning", headers=auth(agent))[0] == 403
    status, body = http("GET", f"{desk.desk_url}/api/learning?status=open", headers=auth(boss))
    assert status == 200
    [mine] = [i for i in body["items"] if i["id"] == item_id]
    assert mine["text"] == text and mine["count"] == 1 and mine["reason"] == "fallback"
    assert mine["predicted_intent"] == "request_human" and mine["confidence"] == 0.42
    assert mine["channel"] == "wechat" and mine["last_seen"].endswith("+08:00")

    assert http("POST", f"{desk.desk_url}/api/learning/{item_id}/label", {"intent": "x"}, headers=auth(boss))[0] == 400
    assert http("POST", f"{desk.desk_url}/api/learning/{item_id}/kb", {"kb_id": "1"}, headers=auth(boss))[0] == 400
    assert http("POST", f"{desk.desk_url}/api/learning/999999/ignore", headers=auth(boss))[0] == 404
    status, body = http("POST", f"{desk.desk_url}/api/learning/{item_id}/kb", {"kb_id": entry_id}, headers=auth(boss))
    assert status == 200 and body["item"]["status"] == "attached"
    status, body = http("POST", f"{desk.desk_url}/api/learning/{item_id}/ignore", headers=auth(boss))
    assert status == 200 and body["item"]["status"] == "ignored"
    assert http("GET", f"{desk.desk_url}/api/learning?status=nope", headers=auth(boss))[0] == 400
