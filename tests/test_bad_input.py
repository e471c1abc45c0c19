"""Bad input on the REST channel gets a clear answer and never breaks the server."""

from __future__ import annotations

from tests.support.stack import Stack, http, new_sender


def webhook(stack: Stack) -> str:
    return f"{stack.rasa_url}/webhooks/rest/webhook"


def test_empty_text_gets_polite_prompt(stack: Stack):
    sender = new_sender()
    for text in ("", "   ", "\n"):
        status, replies = http("POST", webhook(stack), {"sender": sender, "message": text})
        assert status == 200
        assert replies == [{"recipient_id": sender, "text": "您好，没有收到您的文字内容，请问有什么可以帮您？"}]


def test_missing_message_field_is_treated_as_empty(stack: Stack):
    status, replies = http("POST", webhook(stack), {"sender": new_sender()})
    assert status == 200 and "没有收到" in replies[0]["text"]


def test_five_thousand_characters_get_an_answer(stack: Stack):
    text = ("我家厨房的水管漏水了，" * 500)[:5000]
    assert len(text) == 5000
    replies = stack.say(new_sender(), text)
    assert replies and all(r for r in replies)


def test_longer_than_limit_is_refused_clearly(stack: Stack):
    status, body = http("POST", webhook(stack), {"sender": new_sender(), "message": "啊" * 5001})
    assert status == 413 and "5000" in body["error"]


def test_emoji_only_gets_an_answer(stack: Stack):
    replies = stack.say(new_sender(), "😭😭😭🙏")
    assert replies and all(r.strip() for r in replies)


def test_mixed_chinese_english_gets_an_answer(stack: Stack):
    replies = stack.say(new_sender(), "hi 亲 my order 3847261950384726153 怎么 pay 呀")
    assert replies


def test_wrong_json_is_a_clear_400(stack: Stack):
    for raw in (b"{not json", b"[1,2]", b"\xff\xfe", b'"just a string"'):
        status, body = http("POST", webhook(stack), raw=raw)
        assert status == 400, (raw, status, body)
        assert "JSON" in body["error"]


def test_missing_or_bad_sender_is_a_clear_400(stack: Stack):
    for body in (
        {"message": "你好"},
        {"sender": "", "message": "你好"},
        {"sender": 42, "message": "你好"},
        {"sender": "x" * 300, "message": "你好"},
    ):
        status, reply = http("POST", webhook(stack), body)
        assert status == 400 and "sender" in reply["error"], (body, reply)


def test_non_string_message_is_a_clear_400(stack: Stack):
    status, reply = http("POST", webhook(stack), {"sender": new_sender(), "message": ["a"]})
    assert status == 400 and "message" in reply["error"]


def test_server_still_answers_after_bad_input(stack: Stack):
    assert any("您好" in r for r in stack.say(new_sender(), "你好"))


def test_rest_cannot_write_as_a_platform_customer(stack: Stack):
    for sender in ("taobao:someone", "wechat:o123", "tmall:x", "socketio:y"):
        status, body = http("POST", webhook(stack), {"sender": sender, "message": "转人工"})
        assert status == 400 and "another channel" in body["error"], (sender, body)
    assert stack.rasa_api("GET", "/conversations/taobao:someone/tracker")[1]["events"] in ([], None) or not [
        e for e in stack.rasa_api("GET", "/conversations/taobao:someone/tracker")[1]["events"] if e["event"] == "user"
    ]
