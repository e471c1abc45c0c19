"""Desk accounts for tests: made as an operator makes them (`kefu agent add`,
run in this process) and signed in through the desk's own API."""

from __future__ import annotations

from tests.support.cli import kefu
from tests.support.scaled_stack import http
from tests.support.stack import new_sender


def add_agent(
    env: dict[str, str], role: str = "agent", prefix: str = "agent", name: str | None = None
) -> tuple[str, str]:
    """A new account in the database `env` names; (name, one-time password).
    `name` (once per database: names are unique) for a screenshot's real-looking name."""
    name = name or new_sender(prefix)
    result = kefu("agent", "add", name, "--role", role, env=env)
    assert result.returncode == 0, result.stderr
    return name, result.stdout.split("one-time password:")[1].strip()


def login(desk_url: str, name: str, password: str) -> str:
    """POST /api/login; the bearer token."""
    status, body = http("POST", f"{desk_url}/api/login", {"name": name, "password": password})
    assert status == 200, body
    return body["token"]
