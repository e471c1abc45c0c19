"""Shared fixtures: the real stack (`kefu run`) on free loopback ports."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

import pytest

# Tests import these from here too.
from tests.support.scaled_stack import PG_ADMIN_URL, free_port, http, pg_database, stop, wait_ready, with_token  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Stack:
    rasa_url: str
    actions_url: str
    desk_url: str
    database_url: str
    env: Dict[str, str]
    log_path: Path
    proc: subprocess.Popen

    def say(self, sender: str, text: str) -> List[str]:
        """Send one customer message over the REST channel; the bot's texts."""
        status, replies = http("POST", f"{self.rasa_url}/webhooks/rest/webhook",
                               {"sender": sender, "message": text})
        assert status == 200, (status, replies)
        return [r.get("text", "") for r in replies]

    def rasa_api(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
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
    """Poll until predicate() is true (deliveries happen in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def new_sender(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start_stack(tmp: Path, extra_env: Optional[Dict[str, str]] = None) -> Stack:
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
        # Rasa's API is never open; the tests hold the token as the desk does.
        "KEFU_RASA_TOKEN": uuid.uuid4().hex,
        **(extra_env or {}),
    }
    log_path = tmp / "stack.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "run"], cwd=ROOT, env=env,
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    stack = Stack(
        rasa_url=f"http://127.0.0.1:{ports['rasa']}",
        actions_url=f"http://127.0.0.1:{ports['actions']}",
        desk_url=f"http://127.0.0.1:{ports['desk']}",
        database_url=database_url, env=env, log_path=log_path, proc=proc,
    )
    try:
        wait_ready(proc, [f"{stack.rasa_url}/webhooks/rest/", f"{stack.actions_url}/health",
                          f"{stack.desk_url}/healthz"], log_path, timeout=300)
    except Exception:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> int:
    """SIGTERM to the process group, as a terminal's Ctrl-C would reach it."""
    stop(stack.proc)
    return stack.proc.returncode


# Tencent's published sample account (token, EncodingAESKey, appid).
WECHAT_TOKEN = "spamtest"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APPID = "wx2c2769f8efd9abc2"
WECOM_CORPID = "ww1436e0e65a779aee"
WECOM_TOKEN = "wecomtoken"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def wechat_env(api_url: str, **overrides: str) -> Dict[str, str]:
    env = {
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_ENCODING_AES_KEY": WECHAT_AES_KEY,
        "WECHAT_APPID": WECHAT_APPID,
        "WECHAT_APPSECRET": "test-secret",
        "WECHAT_API_BASE": api_url,
        "WECOM_CORPID": WECOM_CORPID,
        "WECOM_SECRET": "wecom-secret",
        "WECOM_TOKEN": WECOM_TOKEN,
        "WECOM_ENCODING_AES_KEY": WECOM_AES_KEY,
        "WECOM_API_BASE": api_url,
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def wechat_api():
    from fake_wechat_api import FakeWeChatAPI

    return FakeWeChatAPI().start()


TAOBAO_APP_KEY = "12345678"
TAOBAO_APP_SECRET = "top-secret"  # the fake gateway's secret


def taobao_env(api_url: str, **overrides: str) -> Dict[str, str]:
    env = {
        "TAOBAO_APP_KEY": TAOBAO_APP_KEY,
        "TAOBAO_APP_SECRET": TAOBAO_APP_SECRET,
        "TAOBAO_SESSION": "test-session",
        "TAOBAO_API_BASE": api_url,
        "TAOBAO_SIGN_METHOD": "hmac-sha256",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def top_api():
    from fake_top_api import FakeTopAPI

    return FakeTopAPI(TAOBAO_APP_SECRET).start()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, wechat_api, top_api) -> Stack:
    # No reminder worker here: its 催付 to the tests' buyers would mix into
    # their conversations. tests/test_reminders_stack.py runs one end to end.
    running = start_stack(tmp_path_factory.mktemp("stack"),
                          {**wechat_env(wechat_api.url), **taobao_env(top_api.url),
                           "KEFU_REMINDER_WORKERS": "0"})
    yield running
    stop_stack(running)


@pytest.fixture(scope="session")
def agent_token(stack: Stack) -> str:
    name = new_sender("agent")
    out = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "agent", "add", name], cwd=ROOT, env=stack.env,
        capture_output=True, text=True, check=True,
    ).stdout
    password = out.split("one-time password:")[1].strip()
    status, body = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})
    assert status == 200, body
    return body["token"]




@pytest.fixture()
def postgres_url() -> str:
    """A fresh PostgreSQL database for one test, dropped afterwards. The
    machines have PostgreSQL; a test that needs it fails without it."""
    with pg_database(PG_ADMIN_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_database_url(request, tmp_path) -> str:
    """The desk schema on a fresh SQLite file, then on a fresh PostgreSQL database."""
    from kefu.core.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kefu.core.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


@pytest.fixture()
def session(migrated_database_url):
    """A 2.0-style session on the migrated desk schema (SQLite, then PostgreSQL)."""
    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine

    engine = make_engine(migrated_database_url)
    with Session(engine, future=True, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def auth(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
