"""Handing off only when it helps, through the running stack over REST:
emoji, stickers and acknowledgements are never misunderstood, "你是机器人吗"
is answered honestly, and after two real misunderstandings the customer is
asked before being moved to the desk's queue."""

from __future__ import annotations

from actions.handoff import DECLINED_TEXT, FALLBACK_TEXT, OFFER_TEXT
from bot.components.unknown_text_guard import number_answer, says_nothing
from tests.support.stack import Stack, auth, http, new_sender

OFFER = "需要为您转接人工客服吗"


def queued(stack: Stack, token: str, sender: str) -> list:
    """The customer's conversations waiting in the desk's queue."""
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(token))
    assert status == 200, body
    return [c for c in body["conversations"] if c["customer_id"] == sender]


def test_what_says_nothing_and_what_is_a_number_answer():
    for text in ("👍", "😊😊", "嗯", "[微笑]", "[Smile]", "/::)", "/:^_^", "[表情]", "？？？", "😭😭😭🙏", " 哦 "):
        assert says_nothing(text), text
    for text in ("好的", "ok", "asdkjh qwe", "1栋", "转人工", "你是机器人吗", "", "   "):
        assert not says_nothing(text), text
    for text in ("12345", "186 1234 5678", "+86 18612345678", "5", "4分", "7-2-301", "3847261950384726153"):
        assert number_answer(text), text
    for text in ("88", "886", "5号楼", "👍", "2分，师傅来得太慢"):
        assert not number_answer(text), text


def test_emoji_stickers_and_acknowledgements_never_move_towards_a_handoff(stack: Stack, agent_token: str):
    sender = new_sender()
    # 👍 then 😊😊 then 嗯 once transferred the customer to a human.
    for text in ("👍", "😊😊", "嗯", "[微笑]", "/:)", "[表情]", "哦", "收到", "ok", "好的", "谢谢", "？"):
        replies = stack.say(sender, text)
        joined = "\n".join(replies)
        assert replies and joined.strip(), f"no answer to {text!r}"
        assert FALLBACK_TEXT not in replies and "换个说法" not in joined, (text, joined)
        assert OFFER not in joined and "转接人工" not in joined, (text, joined)
        assert len(joined) <= 60, (text, joined)  # a short answer, not a speech
    assert queued(stack, agent_token, sender) == []
    assert stack.tracker(sender).get("paused") is not True


def test_an_emoji_between_two_misunderstandings_does_not_reset_the_count(stack: Stack, agent_token: str):
    sender = new_sender()
    assert FALLBACK_TEXT in stack.say(sender, "asdkjh qwe zzz")
    assert FALLBACK_TEXT not in stack.say(sender, "👍")
    assert OFFER_TEXT in stack.say(sender, "qpwoeiru mnbv")
    assert queued(stack, agent_token, sender) == []


def test_asked_whether_it_is_a_bot_it_says_so_and_how_to_reach_a_human(stack: Stack, agent_token: str):
    for question in ("你是机器人吗", "你是真人吗", "是AI吗"):
        sender = new_sender()
        text = "\n".join(stack.say(sender, question))
        assert "智能" in text and "转人工" in text, (question, text)
        assert "转接" not in text, (question, text)
        assert queued(stack, agent_token, sender) == [], question


def test_two_real_misunderstandings_ask_first_and_yes_hands_off(stack: Stack, agent_token: str):
    sender = new_sender()
    first = "\n".join(stack.say(sender, "asdkjh qwe zzz"))
    assert "换个说法" in first and "转人工" in first, first
    second = "\n".join(stack.say(sender, "qpwoeiru mnbv"))
    assert OFFER in second and "正在为您转接" not in second, second
    assert queued(stack, agent_token, sender) == []  # asked, not moved
    third = "\n".join(stack.say(sender, "是"))
    assert "正在为您转接人工客服" in third, third
    [conv] = queued(stack, agent_token, sender)
    assert conv["handoff_reason"] == "repeated_fallback"
    assert stack.say(sender, "在吗") == []  # the agent's now


def test_offer_accepted_with_need(stack: Stack, agent_token: str):
    sender = new_sender()
    stack.say(sender, "asdkjh qwe zzz")
    assert OFFER_TEXT in stack.say(sender, "qpwoeiru mnbv")
    assert "正在为您转接人工客服" in "\n".join(stack.say(sender, "需要"))
    assert [c["handoff_reason"] for c in queued(stack, agent_token, sender)] == ["repeated_fallback"]


def test_offer_declined_keeps_the_bot_and_counts_afresh(stack: Stack, agent_token: str):
    sender = new_sender()
    stack.say(sender, "asdkjh qwe zzz")
    assert OFFER_TEXT in stack.say(sender, "qpwoeiru mnbv")
    assert stack.say(sender, "不用") == [DECLINED_TEXT]
    assert queued(stack, agent_token, sender) == []
    assert any("您好" in r for r in stack.say(sender, "你好")), "bot silent after 不用"
    # One new misunderstanding after 不用 is not two in a row.
    assert stack.say(sender, "zxcvb nmlkj") == [FALLBACK_TEXT]
    assert queued(stack, agent_token, sender) == []


def test_a_yes_that_answers_no_offer_hands_nothing_off(stack: Stack, agent_token: str):
    sender = new_sender()
    stack.say(sender, "asdkjh qwe zzz")
    reply = "\n".join(stack.say(sender, "好的"))
    assert "转接" not in reply, reply
    assert queued(stack, agent_token, sender) == []


def test_asking_for_a_human_hands_off_at_once(stack: Stack, agent_token: str):
    for request in ("转人工", "人工客服"):
        sender = new_sender()
        stack.say(sender, "asdkjh qwe zzz")  # one misunderstanding: no offer needed for an explicit request
        text = "\n".join(stack.say(sender, request))
        assert "正在为您转接人工客服" in text and OFFER not in text, (request, text)
        [conv] = queued(stack, agent_token, sender)
        assert conv["handoff_reason"] == "customer_request"


def test_during_the_repair_form_an_emoji_or_a_bot_question_is_not_the_address(stack: Stack, agent_token: str):
    sender = new_sender()
    asked = "\n".join(stack.say(sender, "客厅的灯不亮了，能来修一下吗"))
    assert "房号" in asked or "地址" in asked, asked
    for text in ("👍", "你是机器人吗"):
        reply = "\n".join(stack.say(sender, text))
        assert "工单号" not in reply and "手机" not in reply, (text, reply)  # not taken as the address
        assert "房号" in reply or "地址" in reply, (text, reply)  # the form asks again
        assert OFFER not in reply and "转接" not in reply, (text, reply)
    assert "手机" in "\n".join(stack.say(sender, "5号楼1单元1202"))
    assert queued(stack, agent_token, sender) == []
