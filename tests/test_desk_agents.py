"""Agents' accounts and duties: guessing is stopped without letting an outsider
lock an agent out, passwords can be changed, supervisors disable accounts,
names have no look-alikes, a conversation back with the bot is not answered
by an agent, and a 回访 is completed by its owner or a supervisor."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys

from tests.support.stack import ROOT, Stack, auth, new_sender
from tests.support.stack import http as call


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", "agent", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True
    )


def new_agent(stack: Stack, role: str = "agent", name: str | None = None) -> tuple[str, str]:
    name = name or new_sender("acct")
    result = cli(stack, "add", name, "--role", role)
    assert result.returncode == 0, result.stderr
    return name, result.stdout.split("one-time password:")[1].strip()


def login_from(stack: Stack, address: str, name: str, password: str) -> tuple[int, dict]:
    """POST /api/login from a given loopback address (the desk listens on all)."""
    port = int(stack.desk_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(address, 0))
    try:
        conn.request(
            "POST", "/api/login", json.dumps({"name": name, "password": password}), {"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def token_of(stack: Stack, name: str, password: str) -> str:
    status, body = call("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})
    assert status == 200, body
    return body["token"]


def test_guessing_from_one_address_does_not_lock_the_agent_out_elsewhere(stack: Stack):
    name, password = new_agent(stack)
    attacker = "127.0.0.2"
    for _ in range(5):
        assert login_from(stack, attacker, name, "guess")[0] == 401
    # The guessing address is stopped for this name, even with the right password …
    status, body = login_from(stack, attacker, name, password)
    assert status == 429 and "15 minutes" in body["error"]
    assert login_from(stack, attacker, name, "guess")[0] == 429
    # … but the agent, from their own address, signs in (maybe after a short delay).
    assert login_from(stack, "127.0.0.1", name, password)[0] == 200
    # A supervisor lifts the wait for every address.
    boss, boss_password = new_agent(stack, role="supervisor")
    boss_token = token_of(stack, boss, boss_password)
    agent_id = call("GET", f"{stack.desk_url}/api/me", headers=auth(token_of(stack, name, password)))[1]["id"]
    assert (
        call("POST", f"{stack.desk_url}/api/agents/{agent_id}/unlock", headers=auth(token_of(stack, name, password)))[0]
        == 403
    )  # not for agents
    assert call("POST", f"{stack.desk_url}/api/agents/{agent_id}/unlock", headers=auth(boss_token))[0] == 200
    assert login_from(stack, attacker, name, password)[0] == 200
    # So does an administrator on the server.
    for _ in range(6):
        login_from(stack, attacker, name, "guess")
    assert login_from(stack, attacker, name, password)[0] == 429
    result = cli(stack, "unlock", name)
    assert result.returncode == 0, result.stderr
    assert login_from(stack, attacker, name, password)[0] == 200


def test_one_address_guessing_many_names_is_stopped(stack: Stack):
    name, password = new_agent(stack)
    address = "127.0.0.3"
    for _ in range(20):
        assert login_from(stack, address, new_sender("nobody"), "guess")[0] == 401
    assert login_from(stack, address, name, password)[0] == 429
    assert login_from(stack, "127.0.0.1", name, password)[0] == 200


def test_agents_change_their_password_and_other_sessions_end(stack: Stack):
    name, password = new_agent(stack)
    here, elsewhere = token_of(stack, name, password), token_of(stack, name, password)
    url = f"{stack.desk_url}/api/me/password"
    assert call("POST", url, {"old": "wrong", "new": "这是一个足够长的新密码"}, headers=auth(here))[0] == 403
    status, body = call("POST", url, {"old": password, "new": "short"}, headers=auth(here))
    assert status == 400 and "10" in body["error"]
    assert call("POST", url, {"old": password}, headers=auth(here))[0] == 400
    assert call("POST", url, {"old": password, "new": "这是一个足够长的新密码"}, headers=auth(here))[0] == 200
    assert call("GET", f"{stack.desk_url}/api/me", headers=auth(here))[0] == 200
    assert call("GET", f"{stack.desk_url}/api/me", headers=auth(elsewhere))[0] == 401
    assert login_from(stack, "127.0.0.5", name, password)[0] == 401
    assert token_of(stack, name, "这是一个足够长的新密码")
    # An administrator resets a forgotten password: a new one-time password, every session ends.
    result = cli(stack, "passwd", name)
    assert result.returncode == 0, result.stderr
    reset = result.stdout.split("one-time password:")[1].strip()
    assert call("GET", f"{stack.desk_url}/api/me", headers=auth(here))[0] == 401
    assert token_of(stack, name, reset)
    assert cli(stack, "passwd", new_sender("nobody")).returncode == 1


def test_supervisors_disable_agents_who_then_cannot_sign_in(stack: Stack):
    name, password = new_agent(stack)
    boss, boss_password = new_agent(stack, role="supervisor")
    token, boss_token = token_of(stack, name, password), token_of(stack, boss, boss_password)
    agent_id = call("GET", f"{stack.desk_url}/api/me", headers=auth(token))[1]["id"]
    boss_id = call("GET", f"{stack.desk_url}/api/me", headers=auth(boss_token))[1]["id"]
    assert call("POST", f"{stack.desk_url}/api/agents/{boss_id}/disable", headers=auth(token))[0] == 403
    assert call("POST", f"{stack.desk_url}/api/agents/{boss_id}/disable", headers=auth(boss_token))[0] == 409
    assert call("POST", f"{stack.desk_url}/api/agents/{2**31 - 1}/disable", headers=auth(boss_token))[0] == 404
    served = waiting_conversation(stack, token)
    assert call("POST", f"{stack.desk_url}/api/conversations/{served['id']}/take", headers=auth(token))[0] == 200
    status, body = call("POST", f"{stack.desk_url}/api/agents/{agent_id}/disable", headers=auth(boss_token))
    assert status == 200 and body["agent"]["disabled"] is True
    # The customer they were serving is back in the queue, for another agent.
    waiting = call("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(boss_token))[1]
    assert [c["assignee_id"] for c in waiting["conversations"] if c["id"] == served["id"]] == [None]
    assert call("GET", f"{stack.desk_url}/api/me", headers=auth(token))[0] == 401  # signed out at once
    status, body = call("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})
    assert status == 403 and "disabled" in body["error"]
    # A wrong password learns nothing about the account (guessed from another
    # address: the suite's own logins come from 127.0.0.1).
    assert login_from(stack, "127.0.0.5", name, "guess")[0] == 401
    listed = call("GET", f"{stack.desk_url}/api/agents", headers=auth(boss_token))[1]["agents"]
    [listed_agent] = [a for a in listed if a["id"] == agent_id]
    assert {k: listed_agent[k] for k in ("name", "role", "disabled", "status")} == {
        "name": name,
        "role": "agent",
        "disabled": True,
        "status": "offline",
    }
    assert cli(stack, "enable", name).returncode == 0
    token = token_of(stack, name, password)
    result = cli(stack, "disable", name)
    assert result.returncode == 0 and "disabled" in result.stdout
    assert call("GET", f"{stack.desk_url}/api/me", headers=auth(token))[0] == 401
    assert call("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[0] == 403


def test_agent_names_have_no_look_alikes(stack: Stack):
    suffix = new_sender("")[1:]
    name, password = new_agent(stack, name=f"ｌｉ-{suffix}")  # full-width letters
    assert name != f"li-{suffix}"
    status, me = call("GET", f"{stack.desk_url}/api/me", headers=auth(token_of(stack, f"li-{suffix}", password)))
    assert status == 200 and me["name"] == f"li-{suffix}"  # stored as NFKC
    assert token_of(stack, name, password)  # and found by either spelling
    for look_alike in (f"li-{suffix}\u200b", f"l\u200di-{suffix}", f"li-{suffix}\u3164", f"\u202eli-{suffix}"):
        result = cli(stack, "add", look_alike)
        assert result.returncode == 2 and "invisible" in result.stderr, (look_alike, result.stderr)
    for same in (f"LI-{suffix}", f"Li-{suffix}", f" li-{suffix} "):
        result = cli(stack, "add", same)
        assert result.returncode == 1 and ("already exists" in result.stderr or "looks the same" in result.stderr)
    assert cli(stack, "add", "   ").returncode == 2


def waiting_conversation(stack: Stack, token: str) -> dict:
    sender = new_sender("acct-customer")
    stack.say(sender, "你好，我要报修，楼道灯坏了")
    stack.say(sender, "转人工")
    body = call("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(token))[1]
    [conversation] = [c for c in body["conversations"] if c["customer_id"] == sender]
    return conversation


def test_reply_to_a_conversation_handed_back_to_the_bot_is_refused(stack: Stack):
    name, password = new_agent(stack)
    token = token_of(stack, name, password)
    conversation = waiting_conversation(stack, token)
    url = f"{stack.desk_url}/api/conversations/{conversation['id']}"
    assert call("POST", f"{url}/take", headers=auth(token))[0] == 200
    assert call("POST", f"{url}/resume", headers=auth(token))[0] == 200
    status, body = call("POST", f"{url}/reply", {"text": "您好，还在吗？"}, headers=auth(token))
    assert status == 409 and "bot" in body["error"] and body["code"] == "not_in_desk"
    assert call("POST", f"{url}/take", headers=auth(token))[0] == 409
    listed = call("GET", f"{stack.desk_url}/api/conversations?status=bot", headers=auth(token))[1]
    assert [c["status"] for c in listed["conversations"] if c["id"] == conversation["id"]] == ["bot"]
    events = stack.tracker(conversation["customer_id"])["events"]
    assert not any(e["event"] == "bot" and e.get("text") == "您好，还在吗？" for e in events)
    # The bot, not a phantom agent, answers the customer.
    assert any("您好" in t for t in stack.say(conversation["customer_id"], "你好"))


def test_a_followup_is_completed_by_the_tickets_owner_or_a_supervisor(stack: Stack):
    owner, owner_password = new_agent(stack)
    other, other_password = new_agent(stack)
    boss, boss_password = new_agent(stack, role="supervisor")
    owner_token, other_token = token_of(stack, owner, owner_password), token_of(stack, other, other_password)
    sender = new_sender("acct-repair")
    stack.say(sender, "救命 12号楼803 燃气泄漏了好大的味道 电话13912345678")
    listed = call("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(owner_token))[1]
    [ticket] = listed["tickets"]
    url = f"{stack.desk_url}/api/tickets/{ticket['id']}"
    assert call("POST", f"{url}/take", headers=auth(owner_token))[0] == 200
    assert call("POST", f"{url}/status", {"status": "resolved"}, headers=auth(owner_token))[0] == 200
    followups = call("GET", f"{stack.desk_url}/api/followups", headers=auth(owner_token))[1]["followups"]
    [followup] = [f for f in followups if f["ticket_id"] == ticket["id"]]
    done_url = f"{stack.desk_url}/api/followups/{followup['id']}/done"
    status, body = call("POST", done_url, {"note": "已回访"}, headers=auth(other_token))
    assert status == 403 and "owner" in body["error"]
    assert call("GET", f"{stack.desk_url}/api/followups", headers=auth(owner_token))[1]["followups"] == followups
    status, body = call(
        "POST", done_url, {"note": "业主表示已修好"}, headers=auth(token_of(stack, boss, boss_password))
    )
    assert status == 200 and body["followup"]["done_at"]
