"""Whatever a client sends to the desk API (odd ids, deep or mistyped JSON,
broken text, over HTTP or the live websocket) ends as a 4xx with a clear
message: never a 500, and the desk and Rasa keep running."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.agents import add_agent, login
from tests.support.stack import Stack, auth, http, new_sender


@pytest.fixture(scope="module")
def boss_token(stack: Stack) -> str:
    """A supervisor's: the supervisors' routes check their input too."""
    return login(stack.desk_url, *add_agent(stack.env, "supervisor", "input-boss"))


HUGE_IDS = [str(2**63), str(2**64 + 1), "9" * 40, "9" * 5000, str(2**31), "0", "-1", "²", "١٢", "1e3", "%E4%B8%AD"]
ID_ROUTES = [
    ("POST", "/api/conversations/{}/take"),
    ("GET", "/api/conversations/{}/messages"),
    ("POST", "/api/conversations/{}/reply"),
    ("POST", "/api/conversations/{}/resume"),
    ("POST", "/api/conversations/{}/close"),
    ("GET", "/api/tickets/{}"),
    ("POST", "/api/tickets/{}/take"),
    ("POST", "/api/tickets/{}/status"),
    ("POST", "/api/followups/{}/done"),
    ("PUT", "/api/canned-replies/{}"),
    ("DELETE", "/api/canned-replies/{}"),
    ("POST", "/api/agents/{}/disable"),
    ("POST", "/api/agents/{}/unlock"),
]
BODY_ROUTES = [
    ("POST", "/api/conversations/1/reply"),
    ("POST", "/api/tickets/1/status"),
    ("POST", "/api/followups/1/done"),
    ("POST", "/api/canned-replies"),
    ("PUT", "/api/canned-replies/1"),
    ("POST", "/api/me/password"),
]


def assert_clear_400(status, body, what):
    assert status == 400, (what, status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (what, body)


def assert_still_running(stack: Stack, token: str):
    assert http("GET", f"{stack.desk_url}/healthz")[0] == 200
    assert http("GET", f"{stack.desk_url}/api/me", headers=auth(token))[0] == 200
    assert stack.say(new_sender("after-junk"), "你好")  # Rasa too: nothing reached it


def test_ids_out_of_range_or_not_numbers_are_a_clear_400_on_every_route(stack: Stack, boss_token: str):
    agent_token = boss_token
    for method, route in ID_ROUTES:
        for bad in HUGE_IDS:
            body = (
                {"text": "您好", "status": "resolved", "note": "", "title": "t"} if method in ("POST", "PUT") else None
            )
            url = f"{stack.desk_url}{route.format(quote(bad, safe='%'))}"
            status, answer = http(method, url, body, headers=auth(agent_token))
            assert_clear_400(status, answer, (method, route, bad))
    for query in ("owner_id=9223372036854775808", "owner_id=%C2%B2", "owner_id=-3"):
        status, answer = http("GET", f"{stack.desk_url}/api/tickets?{query}", headers=auth(agent_token))
        assert_clear_400(status, answer, query)
    for query in ("limit=%C2%B2", "limit=99999999999999999999", "limit=0"):
        status, answer = http("GET", f"{stack.desk_url}/api/reminders?{query}", headers=auth(agent_token))
        assert_clear_400(status, answer, query)
    for week in ("9999-W52", "1-W1", "%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-W48", "2026-W99"):
        status, answer = http("GET", f"{stack.desk_url}/api/reports/weekly?week={week}", headers=auth(agent_token))
        assert_clear_400(status, answer, week)
    # The largest id a row can have is still just "not found".
    assert http("GET", f"{stack.desk_url}/api/tickets/{2**31 - 1}", headers=auth(agent_token))[0] == 404
    assert_still_running(stack, agent_token)


def test_deep_mistyped_and_broken_bodies_are_a_clear_400(stack: Stack, boss_token: str):
    agent_token = boss_token
    deep_list = b"[" * 100_000 + b"]" * 100_000
    deep_object = json.dumps(json.loads('{"a":' * 40 + "1" + "}" * 40)).encode()
    lone_surrogate = (
        b'{"text": "\\udfff", "status": "\\ud800", "note": "\\udfff", "title": "\\udfff", '
        b'"old": "\\udfff", "new": "\\udfff"}'
    )
    not_utf8 = '{"text": "您好"}'.encode("gb18030")
    for method, route in BODY_ROUTES:
        for what, raw in (
            ("deep list", deep_list),
            ("deep object", deep_object),
            ("surrogate", lone_surrogate),
            ("gb18030", not_utf8),
            ("not json", b"{oops"),
            ("array", b"[1, 2]"),
            ("empty", b""),
        ):
            status, answer = http(method, f"{stack.desk_url}{route}", raw=raw, headers=auth(agent_token))
            assert_clear_400(status, answer, (route, what))
    # Fields of the wrong type: `"status": []` made a TypeError (500).
    for route, body in (
        ("/api/tickets/1/status", {"status": []}),
        ("/api/tickets/1/status", {"status": {}}),
        ("/api/tickets/1/status", {"status": "resolved", "note": ["x"]}),
        ("/api/followups/1/done", {"note": {"a": 1}}),
        ("/api/conversations/1/reply", {"text": []}),
        ("/api/me/password", {"old": ["x"], "new": "a-new-password"}),
    ):
        status, answer = http("POST", f"{stack.desk_url}{route}", body, headers=auth(agent_token))
        assert_clear_400(status, answer, (route, body))
    for body in ({"name": [], "password": "x"}, {"name": "x", "password": {"a": 1}}, {"name": "\udfff"}):
        status, answer = http("POST", f"{stack.desk_url}/api/login", raw=json.dumps(body).encode(), headers={})
        assert_clear_400(status, answer, body)
    assert_still_running(stack, agent_token)


def test_header_bytes_that_are_not_utf8_are_refused_not_crashed(stack: Stack, boss_token: str):
    import http.client

    port = int(stack.desk_url.rsplit(":", 1)[1])

    def send(method: str, path: str, headers: dict) -> tuple:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.putrequest(method, path)
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.endheaders(b"{}" if method == "POST" else None)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    status, body = send("GET", "/api/me", {"Authorization": b"Bearer \xff\xfe-not-utf8"})
    assert status == 401 and body["error"]
    status, body = send("GET", "/api/me", {"Cookie": b"kefu_session=\xe4\xb8"})
    assert status == 401 and body["error"]
    # A real session cookie with a CSRF header that is not ASCII: a refusal (403), not a TypeError.
    cookie = f"kefu_session={boss_token}".encode()
    status, body = send(
        "POST", "/api/conversations/1/take", {"Cookie": cookie, "X-CSRF-Token": "令牌".encode(), "Content-Length": b"2"}
    )
    assert status == 403 and "CSRF" in body["error"]
    status, body = send(
        "POST", "/api/conversations/1/take", {"Cookie": cookie, "X-CSRF-Token": b"\xff", "Content-Length": b"2"}
    )
    assert status == 403 and "CSRF" in body["error"]
    assert_still_running(stack, boss_token)


def test_unknown_routes_and_methods_answer_json(stack: Stack, agent_token: str):
    status, answer = http("GET", f"{stack.desk_url}/api/no-such-thing", headers=auth(agent_token))
    assert status == 404 and isinstance(answer, dict) and answer["error"]
    status, answer = http("PATCH", f"{stack.desk_url}/api/tickets", headers=auth(agent_token))
    assert status == 405 and isinstance(answer, dict) and answer["error"]


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_values = st.dictionaries(
    st.sampled_from(["text", "status", "note", "title", "old", "new", "name"]), json_like, max_size=4
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(BODY_ROUTES),
    body=st.one_of(json_like, field_values),
    # No id that may name a real row: other tests' conversations stay theirs.
    ident=st.one_of(
        st.integers(min_value=10**7, max_value=2**70).map(str),
        st.integers(max_value=0).map(str),
        st.text(min_size=1, max_size=6).filter(lambda t: not t.isdigit() and t not in (".", "..")),
    ),
)
def test_no_body_or_id_makes_the_desk_fail(stack: Stack, agent_token: str, route, body, ident):
    method, path = route
    raw = json.dumps(body).encode()
    path = path.replace("/1/", "/" + quote(ident, safe="") + "/")
    status, answer = http(method, f"{stack.desk_url}{path}", raw=raw, headers=auth(agent_token))
    assert status < 500, (path, body, status, answer)
    assert isinstance(answer, dict) and ("error" in answer) == (status >= 400), answer


QUERY_ROUTES = [
    "/api/tickets",
    "/api/conversations",
    "/api/undelivered",
    "/api/reminders",
    "/api/reports/weekly",
    "/api/followups",
    "/api/canned-replies",
    "/api/agents",
    "/api/customers/{}/orders",
    "/api/customers/{}/card",
    "/api/search",
    "/api/wall",
]
QUERY_KEYS = ["customer_id", "status", "category", "channel", "owner_id", "overdue", "limit", "week", "format", "q"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(QUERY_ROUTES),
    segment=st.text(min_size=1, max_size=12),
    params=st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(max_size=12) | st.integers().map(str), max_size=4),
)
def test_no_query_makes_the_desk_fail(stack: Stack, boss_token: str, route, segment, params):
    from urllib.parse import urlencode

    path = route.format(quote(segment, safe=""))
    status, answer = http("GET", f"{stack.desk_url}{path}?{urlencode(params)}", headers=auth(boss_token))
    assert status < 500, (path, params, status, answer)


def test_live_websocket_answers_broken_frames_with_an_error_and_stays_open(stack: Stack, agent_token: str):
    import aiohttp

    ws_url = stack.desk_url.replace("http://", "ws://") + "/api/live"

    async def scenario():
        async with aiohttp.ClientSession(headers=auth(agent_token)) as client, client.ws_connect(ws_url) as ws:
            answers = []
            for frame in (
                '{"reply": "\\udfff", "conversation": 1}',
                '{"watch": "\\ud800"}',
                '{"watch": 1, "after": [1]}',
                '{"watch": [1]}',
                '{"watch": 99999999999999999999}',
                '{"watch": 1, "after": "NaN"}',
                '{"watch": 1, "media_after": -1}',
                '{"watch": 1, "media_after": "7"}',
                "[" * 5000 + "]" * 5000,
                "not json",
            ):
                await ws.send_str(frame)
                while True:
                    data = json.loads((await asyncio.wait_for(ws.receive(), 20)).data)
                    if data["type"] == "error":
                        answers.append(data)
                        break
            # Still open and working: a valid watch gets no error.
            await ws.send_json({"watch": None})
            await ws.send_str('{"reply": "x", "conversation": 1}')
            while True:
                data = json.loads((await asyncio.wait_for(ws.receive(), 20)).data)
                if data["type"] == "error":
                    return answers, data

    answers, last = asyncio.run(scenario())
    assert [a["status"] for a in answers] == [400] * 10, answers
    assert all(a["error"] for a in answers)
    assert last["status"] == 409  # the reply names no watched conversation: refused as before
    assert_still_running(stack, agent_token)


def test_live_websocket_refuses_binary_and_non_utf8_frames_and_the_desk_keeps_running(stack: Stack, agent_token: str):
    import aiohttp
    from aiohttp import WSMsgType

    ws_url = stack.desk_url.replace("http://", "ws://") + "/api/live"

    async def scenario():
        async with aiohttp.ClientSession(headers=auth(agent_token)) as client, client.ws_connect(ws_url) as ws:
            await ws.send_bytes(b'{"watch": 1}')
            while True:
                data = json.loads((await asyncio.wait_for(ws.receive(), 20)).data)
                if data["type"] == "error":
                    break
            # A text frame whose bytes are not UTF-8 (a client's own encoder would refuse to make one).
            await ws._writer.send(b'{"reply": "\xff\xfe"}', binary=False)
            while True:
                msg = await asyncio.wait_for(ws.receive(), 20)
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                    return data, ws.close_code

    error, close_code = asyncio.run(scenario())
    assert error["status"] == 400 and "text" in error["error"]
    assert close_code == 1007  # "invalid frame payload data", the protocol's own refusal
    assert_still_running(stack, agent_token)
