"""Issue 11 items 2 and 3: Rasa's HTTP API needs its token by default (made
by `kefu run` when none is set), the desk reports a lost model, and the
action server listens on loopback and checks its shared secret."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.stack import ROOT, Stack, auth, free_port, http, new_sender, start_stack, stop, stop_stack, wait_for

pytestmark = pytest.mark.e2e  # starts its own stack

ACTIONS_TOKEN = "actions-secret-for-the-test"

# Every route of Rasa 3.6's HTTP API (rasa/server.py), with a body where it takes one.
API_ROUTES = [
    ("GET", "/version", None),
    ("GET", "/status", None),
    ("GET", "/domain", None),
    ("GET", "/conversations/{c}/tracker", None),
    ("POST", "/conversations/{c}/tracker/events", {"event": "bot", "text": "点此领取退款 http://evil.example"}),
    ("PUT", "/conversations/{c}/tracker/events", []),
    ("GET", "/conversations/{c}/story", None),
    ("POST", "/conversations/{c}/execute", {"name": "action_listen"}),
    ("POST", "/conversations/{c}/trigger_intent", {"name": "greet"}),
    ("POST", "/conversations/{c}/predict", None),
    ("POST", "/conversations/{c}/messages", {"text": "转人工", "sender": "user"}),
    ("POST", "/model/train", {}),
    ("POST", "/model/test/stories", {}),
    ("POST", "/model/test/intents", {}),
    ("POST", "/model/predict", []),
    ("POST", "/model/parse", {"text": "你好"}),
    ("PUT", "/model", {"model_file": "/nonexistent.tar.gz"}),
    ("DELETE", "/model", None),
]


def request(method: str, url: str, body=None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """(status, response headers) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def listening_addresses(port: int) -> set:
    """Local addresses of the sockets listening on port (IPv4 as dotted quads)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, local_port = fields[1].rsplit(":", 1)
            if int(local_port, 16) == port and fields[3] == "0A":
                if len(address) == 8:
                    found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
                else:
                    found.add(address)
    return found


@pytest.fixture(scope="module")
def open_stack(tmp_path_factory):
    """`kefu run` with no KEFU_RASA_TOKEN (it makes one) and an action-server token."""
    tmp = tmp_path_factory.mktemp("ports")
    running = start_stack(
        tmp,
        {
            "KEFU_RASA_TOKEN": "",
            "KEFU_RASA_TOKEN_FILE": str(tmp / "rasa_token"),
            "KEFU_ACTIONS_TOKEN": ACTIONS_TOKEN,
            "KEFU_MODEL_CHECK_SECONDS": "1",
            "KEFU_REMINDER_WORKERS": "0",
        },
    )
    yield running
    stop_stack(running)


def token_of(stack: Stack) -> str:
    return Path(stack.env["KEFU_RASA_TOKEN_FILE"]).read_text().strip()


def test_kefu_run_makes_a_private_token_that_every_api_route_needs(open_stack: Stack):
    path = Path(open_stack.env["KEFU_RASA_TOKEN_FILE"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = token_of(open_stack)
    assert len(token) >= 32
    sender = new_sender()
    assert any("您好" in r for r in open_stack.say(sender, "你好"))
    for method, path_template, body in API_ROUTES:
        url = f"{open_stack.rasa_url}{path_template.format(c=sender)}"
        for suffix in ("", "?token=", "?token=wrong", f"?token={token}x"):
            status, headers = request(method, url + suffix, body, {"Origin": "https://evil.example"})
            assert status == 401, (method, path_template, suffix, status)
            # No page on another site may read an API answer either.
            assert "Access-Control-Allow-Origin" not in headers, (method, path_template)
    # The conversation is as it was: no forged bot text, no handoff.
    status, tracker = http("GET", f"{open_stack.rasa_url}/conversations/{sender}/tracker?token={token}")
    assert status == 200
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["你好"]
    assert not any("evil.example" in (e.get("text") or "") for e in tracker["events"])
    assert http("GET", f"{open_stack.rasa_url}/status?token={token}")[0] == 200


def test_channels_socketio_and_hello_stay_public_for_any_site(open_stack: Stack):
    assert request("GET", f"{open_stack.rasa_url}/")[0] == 200
    assert request("GET", f"{open_stack.rasa_url}/webhooks/rest/")[0] == 200
    status, headers = request(
        "GET", f"{open_stack.rasa_url}/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://shop.example"}
    )
    assert status == 200 and headers.get("Access-Control-Allow-Origin") == "https://shop.example"


def test_desk_and_clis_use_the_token_kefu_run_made(open_stack: Stack):
    sender = new_sender()
    open_stack.say(sender, "转人工")
    # The desk got the token from `kefu run`: it reads the conversation from Rasa.
    env = {k: v for k, v in open_stack.env.items() if k != "KEFU_RASA_TOKEN"}
    out = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "agent", "add", new_sender("a")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name, password = out.split()[1], out.split("one-time password:")[1].strip()
    token = http("POST", f"{open_stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
    waiting = http("GET", f"{open_stack.desk_url}/api/conversations?status=waiting", headers=auth(token))[1]
    [conv] = [c for c in waiting["conversations"] if c["customer_id"] == sender]
    status, body = http("GET", f"{open_stack.desk_url}/api/conversations/{conv['id']}/messages", headers=auth(token))
    assert status == 200 and "转人工" in [m["text"] for m in body["messages"]], body
    # A CLI without KEFU_RASA_TOKEN reads var/rasa_token (here KEFU_RASA_TOKEN_FILE).
    out = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "customer", "export", sender],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    events = json.loads(out.stdout)["conversation_events"]
    assert "转人工" in [e.get("text") for e in events or []], out.stderr


def test_the_token_file_is_reused(open_stack: Stack, monkeypatch):
    from kefu.runtime.supervisor import ensure_rasa_token

    monkeypatch.setenv("KEFU_RASA_TOKEN_FILE", open_stack.env["KEFU_RASA_TOKEN_FILE"])
    assert ensure_rasa_token({}) == token_of(open_stack)
    assert ensure_rasa_token({"KEFU_RASA_TOKEN": "chosen"}) == "chosen"


def test_action_server_on_loopback_and_behind_its_token(open_stack: Stack):
    port = int(open_stack.env["KEFU_ACTIONS_PORT"])
    assert listening_addresses(port) == {"127.0.0.1"}
    call = {
        "next_action": "action_lookup_order",
        "sender_id": "taobao:someone-else",
        "version": "3.6.2",
        "tracker": {"sender_id": "taobao:someone-else", "slots": {}, "latest_message": {}, "events": []},
        "domain": {},
    }
    for headers in ({}, {"X-Kefu-Actions-Token": "wrong"}):
        assert http("POST", f"{open_stack.actions_url}/webhook", call, headers=headers)[0] == 401
    assert http("GET", f"{open_stack.actions_url}/actions")[0] == 401
    # Rasa sends the token: a turn that runs custom actions works.
    assert "工单号" in "\n".join(open_stack.say(new_sender(), "快递太慢了，我要投诉"))


def test_a_lost_model_is_reported_by_the_desk_and_kefu_run(open_stack: Stack):
    """The model is loaded again afterwards: the module's other tests, in any
    order, find the stack as it was."""
    token = token_of(open_stack)
    assert http("GET", f"{open_stack.desk_url}/healthz") == (200, {"status": "ok"})
    assert http("DELETE", f"{open_stack.rasa_url}/model?token={token}")[0] == 204
    try:
        assert http("GET", f"{open_stack.desk_url}/healthz") == (503, {"model": "missing"})
        assert wait_for(lambda: "has no model loaded" in open_stack.log_path.read_text(), timeout=60)
    finally:
        model = max((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        assert (
            http(
                "PUT", f"{open_stack.rasa_url}/model?token={token}", {"model_file": str(model.resolve())}, timeout=300
            )[0]
            == 204
        )
    assert http("GET", f"{open_stack.desk_url}/healthz") == (200, {"status": "ok"})


def refusal(args, env: dict[str, str]) -> tuple[int, str]:
    """(exit code, stderr) of a command that must refuse to start; one that
    starts anyway is stopped with all its children."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        stop(proc)
        return 0, "still running after 120 s"
    return proc.returncode, err


def local_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "KEFU_RASA_TOKEN_FILE": str(tmp_path / "rasa_token"),
        "KEFU_DATABASE_URL": f"sqlite:///{tmp_path}/kefu.db",
        "KEFU_TRACKER_DB": str(tmp_path / "tracker.db"),
        "KEFU_PID_FILE": str(tmp_path / "kefu.pids"),
        "KEFU_REMINDER_WORKERS": "0",
        **{f"KEFU_{n}_PORT": str(free_port()) for n in ("RASA", "ACTIONS", "DESK")},
        **overrides,
    }
    return {k: v for k, v in env.items() if v is not None}


def test_serve_refuses_rasa_and_desk_without_a_shared_token(tmp_path):
    env = local_env(tmp_path, KEFU_RASA_TOKEN=None)
    for role in ("rasa", "desk"):
        code, err = refusal(["kefu.cli", "serve", role], env)
        assert code != 0 and "needs KEFU_RASA_TOKEN" in err, (role, err[-2000:])


def test_action_server_refuses_a_public_address_without_a_token(tmp_path):
    env = local_env(tmp_path, KEFU_ACTIONS_HOST="0.0.0.0", KEFU_ACTIONS_TOKEN=None, KEFU_RASA_TOKEN="x")
    for args in (
        ["kefu.cli", "serve", "actions"],
        ["kefu.runtime.action_server", "--actions", "actions"],
        ["kefu.cli", "run"],
    ):
        code, err = refusal(args, env)
        assert code != 0 and "needs KEFU_ACTIONS_TOKEN" in err, (args, err[-2000:])


def test_var_with_the_databases_and_token_is_the_operators_alone(open_stack: Stack):
    # kefu run made or tightened it before any service started.
    assert stat.S_IMODE((ROOT / "var").stat().st_mode) == 0o700
