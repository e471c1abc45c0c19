"""KEFU_REST_TOKEN: the REST channel names its customer itself, so an
operator can require a shared token from the trusted systems that use it
(issue 11, item 14). Its own stack: the session stack runs without one."""

from __future__ import annotations

import pytest

from tests.support.stack import Stack, http, new_sender, start_stack, stop_stack

pytestmark = pytest.mark.e2e  # starts its own stack

TOKEN = "rest-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Stack:
    running = start_stack(
        tmp_path_factory.mktemp("rest-token"), {"KEFU_REST_TOKEN": TOKEN, "KEFU_REMINDER_WORKERS": "0"}
    )
    yield running
    stop_stack(running)


def test_rest_messages_need_the_token_when_one_is_set(guarded: Stack):
    url = f"{guarded.rasa_url}/webhooks/rest/webhook"
    sender = new_sender()
    message = {"sender": sender, "message": "你好"}
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        status, body = http("POST", url, message, headers=headers)
        assert status == 401 and "KEFU_REST_TOKEN" in body["error"], (headers, status, body)
    assert [e for e in guarded.tracker(sender)["events"] if e["event"] == "user"] == []

    status, replies = http("POST", url, message, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and any("您好" in r.get("text", "") for r in replies), replies
    # The health route stays open (load balancers and `kefu run` probe it).
    assert http("GET", f"{guarded.rasa_url}/webhooks/rest/")[0] == 200
