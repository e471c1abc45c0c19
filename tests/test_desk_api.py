"""Desk API: agents, login, bearer tokens."""

from __future__ import annotations

from tests.support.cli import kefu
from tests.support.desk import Desk
from tests.support.stack import Stack, auth, http, new_sender


def test_healthz(desk: Desk):
    assert http("GET", f"{desk.desk_url}/healthz") == (200, {"status": "ok"})


def test_api_needs_a_token(desk: Desk):
    for path in ("/api/tickets", "/api/conversations?status=waiting"):
        status, body = http("GET", f"{desk.desk_url}{path}")
        assert status == 401, body
        status, body = http("GET", f"{desk.desk_url}{path}", headers=auth("forged-token"))
        assert status == 401, body


def test_agent_add_then_login(desk: Desk):
    name = new_sender("agent")
    result = kefu("agent", "add", name, "--role", "supervisor", env=desk.env)
    assert result.returncode == 0, result.stderr
    password = result.stdout.split("one-time password:")[1].strip()
    assert len(password) >= 12
    assert http("POST", f"{desk.desk_url}/api/login", {"name": name, "password": "wrong"})[0] == 401
    status, body = http("POST", f"{desk.desk_url}/api/login", {"name": name, "password": password})
    assert status == 200 and body["token"]
    status, listed = http("GET", f"{desk.desk_url}/api/tickets", headers=auth(body["token"]))
    assert status == 200 and isinstance(listed["tickets"], list)
    # The same name twice is refused, not duplicated.
    again = kefu("agent", "add", name, env=desk.env)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_login_rejects_bad_bodies(desk: Desk):
    assert http("POST", f"{desk.desk_url}/api/login", raw=b"{oops")[0] == 400
    assert http("POST", f"{desk.desk_url}/api/login", {"name": "x"})[0] == 400
    assert http("POST", f"{desk.desk_url}/api/login", {"name": "nobody", "password": "x"})[0] == 401


def test_ticket_fields_and_filters(stack: Stack, agent_token: str):
    sender = new_sender()
    stack.say(sender, "你们发错货了，质量也太差了，我要投诉")
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(agent_token))
    assert status == 200
    [ticket] = body["tickets"]
    assert {
        "id",
        "channel",
        "customer_id",
        "intent",
        "category",
        "priority",
        "status",
        "created_at",
        "due_at",
        "summary",
    } <= set(ticket)
    assert ticket["created_at"].endswith("+08:00")
    assert http("GET", f"{stack.desk_url}/api/tickets?status=bogus", headers=auth(agent_token))[0] == 400
    status, taken = http("POST", f"{stack.desk_url}/api/tickets/{ticket['id']}/take", headers=auth(agent_token))
    assert status == 200 and taken["ticket"]["status"] == "in_progress"
