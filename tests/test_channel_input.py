"""Every entry point of the Rasa process refuses what is not text, keeps the
same limits, and no single request ends the process (issue 11, items 1, 8, 14).

The stack is the real one (`kefu run`); the platforms are the fake WeChat /
WeCom / TOP servers of the other channel tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import websockets

from kefu.text.received import INVALID_TEXT_REPLY, MAX_TEXT_CHARS, TOO_LONG_REPLY, is_valid_text
from tests.support.stack import Stack, http, new_sender, user_texts, wait_for

# The lone surrogate of issue 11: valid JSON, but not a character.
SURROGATE_BODY = b'{"sender": "\\udfff", "message": "hi"}'
TOO_LONG = "漏" * (MAX_TEXT_CHARS + 1)


def webhook(stack: Stack) -> str:
    return f"{stack.rasa_url}/webhooks/rest/webhook"


def assert_still_serving(stack: Stack) -> None:
    assert stack.proc.poll() is None, stack.log_path.read_text()[-3000:]
    assert any("您好" in r for r in stack.say(new_sender(), "你好"))


# -- item 1: one request never ends the process ------------------------------


def test_lone_surrogate_on_rest_is_a_400_and_rasa_keeps_serving(stack: Stack):
    sender = new_sender()
    for raw in (
        SURROGATE_BODY,
        json.dumps({"sender": sender, "message": "\udfff你好"}).encode(),
        json.dumps({"sender": sender, "message": "你好", "metadata": {"\udfff": 1}}).encode(),
        b'{"sender": "' + sender.encode() + b'", "message": "\xed\xbf\xbf"}',  # a UTF-8-encoded surrogate
        b'{"sender": "' + sender.encode() + b'", "message": "\xff\xfe"}',
    ):  # not UTF-8 at all
        status, body = http("POST", webhook(stack), raw=raw)
        assert status == 400, (raw, status, body)
        assert "UTF-8" in body["error"], body
    assert user_texts(stack, sender) == []
    assert_still_serving(stack)


def test_a_lone_surrogate_reaching_the_tracker_store_fails_one_call_not_the_server(stack: Stack):
    """The root cause: Rasa's SQL tracker store turned any ValueError inside a
    database session (UnicodeEncodeError is one) into sys.exit(1). Here the
    text reaches the store through Rasa's API, past every channel check."""
    sender = new_sender()
    status, body = stack.rasa_api(
        "POST", f"/conversations/{sender}/tracker/events", [{"event": "action", "name": "\udfff"}]
    )
    assert status == 500, (status, body)  # the call failed in the store, not at a door
    assert_still_serving(stack)
    assert any("您好" in r for r in stack.say(sender, "你好"))  # and that conversation goes on


def test_lone_surrogate_in_a_signed_platform_body_is_a_400(stack: Stack):
    # Taobao: JSON bodies are parsed before the signature is checked; the
    # signature check itself would fail encoding the surrogate.
    raw = (
        b'{"app_key": "12345678", "timestamp": "2026-01-01 00:00:00", "sign_method": "md5", '
        b'"sign": "00", "msg_id": "1", "buyer_nick": "x", "content": "\\udfff"}'
    )
    for channel in ("taobao", "tmall"):
        status, body = http("POST", f"{stack.rasa_url}/webhooks/{channel}/webhook", raw=raw)
        assert status == 400 and "UTF-8" in body["error"], (channel, status, body)
    status, body = http(
        "POST",
        f"{stack.rasa_url}/webhooks/taobao/webhook",
        raw=b"app_key=12345678&content=%ED%BF%BF",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400 and "UTF-8" in body["error"], body
    # WeChat / WeCom: bytes that are not UTF-8 never reach the XML parser.
    from tests.support.wechat import post, text_xml

    status, body = post(stack, "", raw=text_xml("o-surrogate", "x").encode().replace(b"x", b"\xed\xbf\xbf"))
    assert status == 400 and "UTF-8" in body["error"], body
    assert_still_serving(stack)


# -- item 14: the REST channel is for trusted integrations -------------------


def test_rest_refuses_widget_ids(stack: Stack):
    for sender in (f"web-{uuid.uuid4().hex}", "web-x"):
        status, body = http("POST", webhook(stack), {"sender": sender, "message": "转人工"})
        assert status == 400 and "another channel" in body["error"], (sender, body)
    assert user_texts(stack, sender) == []


# -- item 8: the same limits on every channel ---------------------------------


def test_rest_metadata_is_capped_at_16_kib(stack: Stack):
    sender = new_sender()
    status, body = http(
        "POST", webhook(stack), {"sender": sender, "message": "你好", "metadata": {"note": "x" * (16 * 1024 + 1)}}
    )
    assert status == 400 and "16 KiB" in body["error"], body
    # A body far beyond any accepted message is refused before it is parsed.
    status, body = http(
        "POST", webhook(stack), {"sender": sender, "message": "你好", "metadata": {"note": "x" * (2 * 1024 * 1024)}}
    )
    assert status == 413 and "KiB" in body["error"], body
    for metadata in ([1, 2], "text"):
        status, body = http("POST", webhook(stack), {"sender": sender, "message": "你好", "metadata": metadata})
        assert status == 400 and "metadata" in body["error"], body
    assert user_texts(stack, sender) == []
    status, replies = http(
        "POST", webhook(stack), {"sender": sender, "message": "你好", "metadata": {"note": "x" * 1000}}
    )
    assert status == 200 and replies
    assert user_texts(stack, sender) == ["你好"]


def test_wechat_says_the_limit_instead_of_cutting(stack: Stack):
    from tests.support.wechat import new_openid, post, text_xml

    openid = new_openid()
    status, reply = post(stack, text_xml(openid, TOO_LONG))
    assert status == 200 and reply["Content"] == TOO_LONG_REPLY
    assert user_texts(stack, f"wechat:{openid}") == []
    status, reply = post(stack, text_xml(openid, "我" * MAX_TEXT_CHARS))  # at the limit: a normal turn
    assert status == 200 and reply["Content"] != TOO_LONG_REPLY
    assert [len(t) for t in user_texts(stack, f"wechat:{openid}")] == [MAX_TEXT_CHARS]


def test_wecom_says_the_limit_and_refuses_unreadable_text(stack: Stack, wechat_api):
    from tests.support.wecom import callback, customer_text

    kf = f"wk{uuid.uuid4().hex[:10]}"
    long_writer, odd_writer, after = (f"wm{n}{uuid.uuid4().hex[:8]}" for n in ("L", "S", "A"))
    wechat_api.queue_kf(kf, customer_text(long_writer, TOO_LONG))
    wechat_api.queue_kf(kf, customer_text(odd_writer, "你好\udfff"))
    wechat_api.queue_kf(kf, customer_text(after, "物业费在哪里交"))
    assert callback(stack, kf) == (200, "success")
    # The message after them is answered: the sync went on past both.
    assert wait_for(lambda: wechat_api.kf_sent_to(after), timeout=60), stack.log_path.read_text()[-3000:]
    assert [m["text"]["content"] for m in wechat_api.kf_sent_to(long_writer)] == [TOO_LONG_REPLY]
    assert [m["text"]["content"] for m in wechat_api.kf_sent_to(odd_writer)] == [INVALID_TEXT_REPLY]
    assert user_texts(stack, f"wecom:{long_writer}") == []
    assert user_texts(stack, f"wecom:{odd_writer}") == []


def test_taobao_says_the_limit_instead_of_cutting(stack: Stack, top_api):
    from tests.support.taobao import new_buyer, say

    buyer = new_buyer()
    status, body = say(stack, buyer, TOO_LONG)
    assert status == 200 and body["replies"] == 1, body
    assert [m["content"] for m in top_api.sent_to(buyer)] == [TOO_LONG_REPLY]
    assert user_texts(stack, f"taobao:{buyer}") == []


# -- socket.io (the widget's transport: websocket) ---------------------------


def socketio_frame(event: str, data: Any) -> str:
    """A socket.io EVENT packet in an engine.io MESSAGE, as a browser sends it
    (raw UTF-8; escaped only where a lone surrogate has no raw form)."""
    encoded = json.dumps([event, data], ensure_ascii=False)
    return "42" + (encoded if is_valid_text(encoded) else json.dumps([event, data]))


def widget_session(stack: Stack, payloads: list[Any], wanted: int, timeout: float = 60) -> dict:
    """One widget connection over a plain websocket (engine.io 4 / socket.io 5
    framing; python-socketio's own websocket client needs a newer aiohttp):
    send `user_uttered` payloads, collect `wanted` bot texts or time out, and
    note whether the server closed the connection."""

    async def run() -> dict:
        url = stack.rasa_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        session_id = f"web-{uuid.uuid4().hex}"
        texts: list[str] = []
        closed = False
        async with websockets.connect(url, max_size=None) as ws:
            assert (await ws.recv()).startswith("0")  # engine.io OPEN
            await ws.send("40")  # socket.io CONNECT
            assert (await ws.recv()).startswith("40")
            await ws.send(socketio_frame("session_request", {"session_id": session_id}))
            # Bot answers go to the session's room: joined once confirmed.
            while not (await ws.recv()).startswith('42["session_confirm"'):
                pass
            for payload in payloads:
                await ws.send(socketio_frame("user_uttered", payload(session_id) if callable(payload) else payload))
            deadline = asyncio.get_running_loop().time() + timeout
            while len(texts) < wanted:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=left)
                except asyncio.TimeoutError:
                    break
                except websockets.ConnectionClosed:
                    closed = True
                    break
                if frame == "2":  # engine.io PING
                    await ws.send("3")
                elif frame.startswith("42"):
                    event, *args = json.loads(frame[2:])
                    if event == "bot_uttered":
                        texts.append((args[0] or {}).get("text", ""))
        return {"texts": texts, "closed_by_server": closed, "session_id": session_id}

    return asyncio.run(run())


def test_socketio_too_long_or_unreadable_text_gets_a_polite_answer(stack: Stack):
    result = widget_session(
        stack,
        [
            lambda sid: {"message": TOO_LONG, "session_id": sid},
            lambda sid: {"message": "你好\udfff", "session_id": sid},
        ],
        wanted=2,
    )
    assert sorted(result["texts"]) == sorted([TOO_LONG_REPLY, INVALID_TEXT_REPLY]), result
    assert user_texts(stack, result["session_id"]) == []


@pytest.mark.parametrize(
    "payload",
    [
        "just a string",
        ["a", "list"],
        lambda sid: {"message": 42, "session_id": sid},
        lambda sid: {"message": "你好", "session_id": sid, "customData": {"note": "x" * (16 * 1024 + 1)}},
        lambda sid: {"message": "你好", "session_id": sid, "customData": "{not json"},
    ],
    ids=["string", "list", "number-text", "metadata-over-16KiB", "metadata-not-json"],
)
def test_socketio_payload_of_the_wrong_kind_gets_the_busy_answer(stack: Stack, payload):
    result = widget_session(stack, [payload], wanted=1)
    assert result["texts"] and "稍后再发送" in result["texts"][0], result
    assert user_texts(stack, result["session_id"]) == []
    assert "socket.io message on connection" in stack.log_path.read_text()


def test_socketio_huge_packet_closes_that_connection_only_with_a_log_line(stack: Stack):
    """100,000 characters are refused by engine.io before any parsing or NLU
    (it accepted 1 MB and the bot chewed on it while others waited)."""
    result = widget_session(stack, [lambda sid: {"message": "啊" * 100_000, "session_id": sid}], wanted=1)
    assert result["closed_by_server"] and result["texts"] == [], result
    assert wait_for(lambda: "socket.io packet of" in stack.log_path.read_text(), timeout=10)
    assert user_texts(stack, result["session_id"]) == []
    # Another widget customer is answered as usual.
    other = widget_session(stack, [lambda sid: {"message": "你好", "session_id": sid}], wanted=1)
    assert other["texts"] and "您好" in other["texts"][0], other


# -- the catch-all under every route of the Rasa process ----------------------

CONTAINED_APP = """
import sys
from sanic import Sanic, response
from kefu.runtime.rasa_server import contain_request_failures

contain_request_failures()
app = Sanic("contained")

@app.get("/exit")
async def leave(request):
    sys.exit(3)  # as Rasa's tracker store did on any ValueError

@app.get("/ok")
async def ok(request):
    return response.json({"ok": True})

app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
"""


@pytest.mark.e2e  # its own server process: the patch under test is process-wide
def test_a_handler_that_calls_sys_exit_ends_its_request_not_the_server(tmp_path):
    """Whatever a library does on a request's path, Sanic under Rasa answers
    that request 500 and goes on serving (kefu/runtime/rasa_server.py)."""
    import subprocess
    import sys

    from tests.support.stack import ROOT, free_port, stop, wait_ready

    port = free_port()
    log = tmp_path / "app.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", CONTAINED_APP, str(port)],
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(proc, [f"http://127.0.0.1:{port}/ok"], log, timeout=120)
        assert http("GET", f"http://127.0.0.1:{port}/exit")[0] == 500
        assert proc.poll() is None, log.read_text()
        assert http("GET", f"http://127.0.0.1:{port}/ok") == (200, {"ok": True})
        assert "tried to end the server" in log.read_text()
    finally:
        stop(proc)


def test_socketio_huge_packet_over_long_polling_is_refused_with_a_log_line(stack: Stack):
    import socketio

    async def run() -> str:
        client = socketio.AsyncClient(reconnection=False)
        closed = asyncio.Event()
        client.on("disconnect", lambda: closed.set())
        await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"])
        session_id = f"web-{uuid.uuid4().hex}"
        await client.emit("session_request", {"session_id": session_id})
        await client.emit("user_uttered", {"message": "啊" * 100_000, "session_id": session_id})
        try:
            await asyncio.wait_for(closed.wait(), timeout=30)
        finally:
            if client.connected:
                await client.disconnect()
        return session_id

    session_id = asyncio.run(run())
    assert wait_for(lambda: "socket.io polling packet of" in stack.log_path.read_text(), timeout=10)
    assert user_texts(stack, session_id) == []
