"""知识库 through the desk's API (`/api/kb`): supervisors add, edit, disable
and delete entries, agents read and get suggestions; bad input is a clear
400, a duplicate question a 409, and an edit is searchable at once."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from tests.support.desk import Desk
from tests.support.stack import auth, http


def entry(tag: str, **fields) -> dict:
    return {
        "question": f"{tag}支持七天无理由退货吗？",
        "similar": [f"{tag}不喜欢能退吗", f"{tag}七天无理由怎么退"],
        "answer": f"亲，{tag}支持七天无理由退换货，商品不影响二次销售即可。",
        "variants": {"taobao": "亲，请在淘宝「我的订单」里申请售后。"},
        "tags": ["售后", tag],
        **fields,
    }


def test_supervisors_edit_and_agents_read(desk: Desk):
    boss, agent = desk.token("supervisor"), desk.token("agent")
    tag = f"KB{uuid.uuid4().hex[:6]}"
    status, body = http("POST", f"{desk.desk_url}/api/kb", entry(tag), headers=auth(boss))
    assert status == 201, body
    entry_id = body["id"]

    status, listed = http("GET", f"{desk.desk_url}/api/kb?q={quote(tag)}", headers=auth(agent))
    assert status == 200
    [got] = listed["entries"]
    assert got["id"] == entry_id and got["question"] == f"{tag}支持七天无理由退货吗？"
    assert got["similar"] == [f"{tag}不喜欢能退吗", f"{tag}七天无理由怎么退"]
    assert got["variants"] == {"taobao": "亲，请在淘宝「我的订单」里申请售后。"}
    assert got["tags"] == ["售后", tag] and got["enabled"] is True
    assert (got["hits"], got["helpful"], got["unhelpful"]) == (0, 0, 0)
    assert got["updated_at"].endswith("+08:00")
    # Without q: every entry.
    status, everything = http("GET", f"{desk.desk_url}/api/kb", headers=auth(agent))
    assert status == 200 and entry_id in [e["id"] for e in everything["entries"]]

    # Agents read only.
    assert http("POST", f"{desk.desk_url}/api/kb", entry(tag + "x"), headers=auth(agent))[0] == 403
    assert http("PUT", f"{desk.desk_url}/api/kb/{entry_id}", {"enabled": False}, headers=auth(agent))[0] == 403
    assert http("DELETE", f"{desk.desk_url}/api/kb/{entry_id}", headers=auth(agent))[0] == 403
    assert http("GET", f"{desk.desk_url}/api/kb")[0] == 401

    # An edit: any subset of the fields.
    status, body = http(
        "PUT",
        f"{desk.desk_url}/api/kb/{entry_id}",
        {"answer": f"{tag}新的退货规则。", "enabled": False},
        headers=auth(boss),
    )
    assert status == 200 and body["entry"]["answer"] == f"{tag}新的退货规则。" and body["entry"]["enabled"] is False
    assert body["entry"]["question"] == got["question"] and body["entry"]["updated_by"]

    assert http("DELETE", f"{desk.desk_url}/api/kb/{entry_id}", headers=auth(boss)) == (200, {"deleted": True})
    assert http("DELETE", f"{desk.desk_url}/api/kb/{entry_id}", headers=auth(boss))[0] == 404
    assert http("PUT", f"{desk.desk_url}/api/kb/{entry_id}", {"enabled": True}, headers=auth(boss))[0] == 404


def test_bad_entries_are_refused_with_a_reason(desk: Desk):
    boss = desk.token("supervisor")
    tag = f"KB{uuid.uuid4().hex[:6]}"
    for body in (
        {"answer": "x"},
        {"question": "  ", "answer": "x"},
        {"question": "q", "answer": ""},
        {"question": "q", "answer": "a", "similar": "不是列表"},
        {"question": "q", "answer": "a", "similar": [1, 2]},
        {"question": "q", "answer": "a", "variants": {"fax": "x"}},
        {"question": "q", "answer": "a", "variants": ["taobao"]},
        {"question": "q", "answer": "a", "enabled": "yes"},
        {"question": "q", "answer": "a", "tags": ["x" * 40]},
        {"question": "q" * 501, "answer": "a"},
        {"question": "q", "answer": "a", "colour": "red"},
    ):
        status, answer = http("POST", f"{desk.desk_url}/api/kb", body, headers=auth(boss))
        assert status == 400 and answer["error"], (body, answer)
    assert http("POST", f"{desk.desk_url}/api/kb", entry(tag), headers=auth(boss))[0] == 201
    status, answer = http("POST", f"{desk.desk_url}/api/kb", entry(tag), headers=auth(boss))
    assert status == 409 and "already exists" in answer["error"]
    assert http("GET", f"{desk.desk_url}/api/kb/suggest", headers=auth(boss))[0] == 400
    assert http("PUT", f"{desk.desk_url}/api/kb/abc", {}, headers=auth(boss))[0] in (400, 404)


def test_answers_are_stored_clean_of_banned_words(desk: Desk):
    boss = desk.token("supervisor")
    tag = f"KB{uuid.uuid4().hex[:6]}"
    status, body = http(
        "POST", f"{desk.desk_url}/api/kb", entry(tag, answer="我们的面料是全网最好的，绝对正品。"), headers=auth(boss)
    )
    assert status == 201
    assert "最好" not in body["entry"]["answer"] and "绝对" not in body["entry"]["answer"]


def test_suggestions_follow_edits_at_once(desk: Desk):
    boss = desk.token("supervisor")
    tag = f"{uuid.uuid4().hex[:6]}"
    question = f"蓝莓{tag}果酱保质期多久"
    status, body = http(
        "POST",
        f"{desk.desk_url}/api/kb",
        {"question": question, "similar": [f"蓝莓{tag}果酱能放多久"], "answer": "未开封保质期18个月。"},
        headers=auth(boss),
    )
    assert status == 201
    entry_id = body["id"]
    status, found = http(
        "GET", f"{desk.desk_url}/api/kb/suggest?text={quote(f'蓝莓{tag}果酱放得了多久')}", headers=auth(boss)
    )
    assert status == 200 and found["suggestions"][0]["id"] == entry_id, found
    top = found["suggestions"][0]
    assert top["question"] == question and top["answer"] == "未开封保质期18个月。" and 0 < top["score"] <= 1
    assert len(found["suggestions"]) <= 3

    # A disabled entry is suggested no more (the cache checks the revision every second).
    http("PUT", f"{desk.desk_url}/api/kb/{entry_id}", {"enabled": False}, headers=auth(boss))
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, found = http(
            "GET", f"{desk.desk_url}/api/kb/suggest?text={quote(f'蓝莓{tag}果酱放得了多久')}", headers=auth(boss)
        )
        if entry_id not in [s["id"] for s in found["suggestions"]]:
            break
        time.sleep(0.2)
    assert entry_id not in [s["id"] for s in found["suggestions"]]
