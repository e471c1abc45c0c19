"""The real stack (`kefu run`) on free loopback ports, and the small helpers
the end-to-end tests share: plain HTTP, polling, fresh customer ids."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.support.scaled_stack import PG_ADMIN_URL, free_port, http, pg_database, stop, wait_ready, with_token  # noqa: F401
from tests.support.waiting import NotReached, wait_until

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


@dataclass
class Stack:
    rasa_url: str
    actions_url: str
    desk_url: str
    database_url: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen

    def say(self, sender: str, text: str) -> list[str]:
        """Send one customer message over the REST channel; the bot's texts."""
        status, replies = http("POST", f"{self.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
        assert status == 200, (status, replies)
        return [r.get("text", "") for r in replies]

    def rasa_api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Rasa's HTTP API (path like "/conversations/x/tracker"), with the token."""
        return http(method, with_token(f"{self.rasa_url}{path}", self.env["KEFU_RASA_TOKEN"]), body)

    def tracker(self, sender: str) -> dict:
        # Percent-encoded UTF-8, every reserved character too, as the desk sends it.
        status, body = self.rasa_api("GET", f"/conversations/{quote(sender, safe='')}/tracker")
        assert status == 200, body
        return body

    def parse(self, text: str) -> dict:
        status, body = self.rasa_api("POST", "/model/parse", {"text": text})
        assert status == 200, body
        return body


def wait_for(predicate, timeout: float = 30) -> bool:
    """Poll until predicate() is true (deliveries happen in the background);
    False if it never is, for `assert wait_for(...)`."""
    try:
        wait_until(predicate, timeout=timeout, interval=0.2)
    except NotReached:
        return False
    return True


def new_sender(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_stack(tmp: Path, extra_env: dict[str, str] | None = None) -> Stack:
    ports = {name: free_port() for name in ("rasa", "actions", "desk")}
    database_url = f"sqlite:///{tmp / 'kefu.db'}"
    env = {
        **os.environ,
        "KEFU_RASA_PORT": str(ports["rasa"]),
        "KEFU_ACTIONS_PORT": str(ports["actions"]),
        "KEFU_DESK_PORT": str(ports["desk"]),
        "KEFU_DATABASE_URL": database_url,
        "KEFU_TRACKER_DB": str(tmp / "tracker.db"),
        "KEFU_PID_FILE": str(tmp / "kefu.pids"),
        "KEFU_MEDIA_DIR": str(tmp / "media"),
        # Rasa's API is never open; the tests hold the token as the desk does.
        "KEFU_RASA_TOKEN": uuid.uuid4().hex,
        **(extra_env or {}),
    }
    log_path = tmp / "stack.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack = Stack(
        rasa_url=f"http://127.0.0.1:{ports['rasa']}",
        actions_url=f"http://127.0.0.1:{ports['actions']}",
        desk_url=f"http://127.0.0.1:{ports['desk']}",
        database_url=database_url,
        env=env,
        log_path=log_path,
        proc=proc,
    )
    try:
        wait_ready(
            proc,
            [f"{stack.rasa_url}/webhooks/rest/", f"{stack.actions_url}/health", f"{stack.desk_url}/healthz"],
            log_path,
            timeout=300,
        )
    except Exception:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> int:
    """SIGTERM to the process group, as a terminal's Ctrl-C would reach it."""
    stop(stack.proc)
    return stack.proc.returncode


def user_texts(stack: Stack, sender: str) -> list[str]:
    status, tracker = stack.rasa_api("GET", f"/conversations/{sender}/tracker")
    assert status == 200
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]
