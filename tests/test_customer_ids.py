"""Any customer id a platform can send names one conversation everywhere:
Chinese nicks, spaces, `/ % # ? < > "` and `:` reach the desk queue, the
history, the agent's reply, the hand-back and the customer's export and
deletion exactly as the channel stored them, and a deleted customer leaves
no copy in any database file."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

from tests.support.stack import ROOT, Stack, auth, http
from tests.support.taobao import say as taobao_say


def kefu(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=180
    )


def waiting(stack: Stack, token: str, customer_id: str) -> dict:
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(token))
    assert status == 200, body
    [conversation] = [c for c in body["conversations"] if c["customer_id"] == customer_id]
    return conversation


def conversation_texts(stack: Stack, customer_id: str) -> list:
    return [(e["event"], e.get("text")) for e in stack.tracker(customer_id)["events"] if e["event"] in ("user", "bot")]


def test_odd_ids_go_through_queue_take_over_history_reply_hand_back_close_export_delete(stack: Stack, agent_token: str):
    tail = uuid.uuid4().hex[:8]
    for customer_id in (f"中文客户{tail}", f' 小明 {tail}/a%2Fb#c?d<e>f"g:h '):
        desk = f"{stack.desk_url}/api/conversations"
        assert any("转接人工" in t for t in stack.say(customer_id, "转人工"))
        conversation = waiting(stack, agent_token, customer_id)
        url = f"{desk}/{conversation['id']}"
        status, body = http("POST", f"{url}/take", headers=auth(agent_token))
        assert status == 200, body
        status, body = http("GET", f"{url}/messages", headers=auth(agent_token))
        assert status == 200 and ("customer", "转人工") in [(m["from"], m["text"]) for m in body["messages"]], body

        status, body = http("POST", f"{url}/reply", {"text": "您好，我是客服小王。"}, headers=auth(agent_token))
        assert status == 200, body
        assert ("bot", "您好，我是客服小王。") in conversation_texts(stack, customer_id)
        # Nothing went to a conversation named after the encoded id.
        assert conversation_texts(stack, quote(customer_id, safe="")) == []

        status, body = http("POST", f"{url}/resume", headers=auth(agent_token))
        assert status == 200 and body["conversation"]["status"] == "bot", body
        assert any("您好" in t for t in stack.say(customer_id, "你好")), "the real conversation stayed paused"

        stack.say(customer_id, "转人工")
        conversation = waiting(stack, agent_token, customer_id)
        url = f"{desk}/{conversation['id']}"
        assert http("POST", f"{url}/take", headers=auth(agent_token))[0] == 200
        status, body = http("POST", f"{url}/close", headers=auth(agent_token))
        assert status == 200, body
        assert any("您好" in t for t in stack.say(customer_id, "你好")), "the closed conversation stayed paused"

        exported = kefu(stack, "customer", "export", customer_id)
        assert exported.returncode == 0, exported.stderr
        data = json.loads(exported.stdout)
        assert [e["text"] for e in data["conversation_events"] if e["event"] == "user"] == [
            "转人工",
            "你好",
            "转人工",
            "你好",
        ]
        assert data["conversations"] and {c["customer_id"] for c in data["conversations"]} == {customer_id}

        deleted = kefu(stack, "customer", "delete", customer_id, "--yes")
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert conversation_texts(stack, customer_id) == []
        again = json.loads(kefu(stack, "customer", "export", customer_id).stdout)
        assert again["conversations"] == [] and again["conversation_events"] is not None
        assert not [e for e in again["conversation_events"] if e["event"] in ("user", "bot")]


def test_rasa_refuses_an_id_that_is_not_percent_encoded_utf8(stack: Stack):
    status, body = stack.rasa_api("GET", "/conversations/%FF%FE/tracker")
    assert status == 400, body


def read_if_there(path: Path) -> bytes | None:
    """A -wal file may go between the listing and the read (SQLite removes it
    when the last connection closes): then it held nothing."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def database_files(stack: Stack) -> list:
    folder = Path(stack.database_url.removeprefix("sqlite:///")).parent
    found = [p for pattern in ("*.db", "*.db-wal", "*.db-shm") for p in folder.glob(pattern)]
    assert {p.name for p in found} >= {"kefu.db", "tracker.db"}, found
    return found


def test_taobao_buyer_is_exported_then_deleted_without_a_copy_in_any_database_file(stack: Stack, top_api):
    buyer = f"小明{uuid.uuid4().hex[:6]}"
    customer_id = f"taobao:{buyer}"
    phone = f"139{random.randrange(10**8):08d}"
    text = f"物业态度太差了，我要投诉，电话{phone}"
    assert taobao_say(stack, buyer, text)[0] == 200
    assert ("user", text) in conversation_texts(stack, customer_id)

    exported = kefu(stack, "customer", "export", customer_id)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert [e["text"] for e in data["conversation_events"] if e["event"] == "user"] == [text]
    assert [t["phone"] for t in data["tickets"]] == [phone]

    deleted = kefu(stack, "customer", "delete", customer_id, "--yes")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert "tickets 1" in deleted.stdout and "conversation_events" in deleted.stdout, deleted.stdout
    again = json.loads(kefu(stack, "customer", "export", customer_id).stdout)
    assert again["tickets"] == [] and again["conversations"] == []
    assert not [e for e in again["conversation_events"] if e["event"] in ("user", "bot")]

    files = {path.name: content for path in database_files(stack) if (content := read_if_there(path)) is not None}
    for secret in (phone, text):
        assert [name for name, content in files.items() if secret.encode() in content] == [], secret
