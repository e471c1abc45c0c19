"""Handing a conversation to a human agent, and the low-confidence fallback."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, FollowupAction, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import (
    CONFIDENT_WITHOUT_INTENT,
    KB_OFFER_TEXT,
    answer_with_feedback,
    kb_consult,
    offer_suggestions,
    settle_kb_reply,
)
from actions.learning import previous_user_message, remember
from actions.orders import ActionAcknowledge, order_answer
from actions.outage import OUTAGE_ERRORS, polite_on_outage
from actions.repair import urgent_repair_in_progress
from actions.store import in_db
from actions.survey import survey_reply
from actions.turn import Turn, bot_text_before, current_turn
from kefu.core.conversations import in_handoff, record_handoff
from kefu.core.handoff import HANDOFF_MARKER
from kefu.core.models import Priority
from kefu.core.settings import presence_timeout
from kefu.core.waiting import on_handoff, position_text, unstaffed_text

HANDOFF_TEXT = "好的，正在为您转接人工客服，请您稍候。人工客服接入前，您可以继续留言，我们会尽快查看并回复您。"
FALLBACK_TEXT = "抱歉，我没有完全理解您的意思🙏 麻烦您换个说法再描述一下好吗？如需人工服务，请回复“转人工”。"
OFFER_TEXT = "抱歉，我还是没能理解您的意思🙏 需要为您转接人工客服吗？（回复“是”转接，回复“不用”继续由我为您服务）"
DECLINED_TEXT = "好的，那我继续为您服务。您可以换个说法描述一下问题，或者直接告诉我要咨询、报修、缴费还是投诉；需要人工时随时回复“转人工”。"
# Two misunderstandings in a row are enough: the customer should not have to
# fight the bot a third time. They are then asked, not moved: a transfer the
# customer did not want is a wait in a queue for nothing.
logger = logging.getLogger(__name__)
FALLBACKS_BEFORE_HANDOFF = 2
# Messages that carry no question: nothing to learn when a handoff follows them.
SMALL_TALK = frozenset({"request_human", "greet", "goodbye", "thank", "acknowledge", "affirm", "deny"})


async def hand_off(
    dispatcher: CollectingDispatcher,
    turn: Turn,
    reason: str,
    *,
    priority: str = Priority.normal.value,
    text: str | None = HANDOFF_TEXT,
    topic: str | None = None,
) -> list[dict[str, Any]]:
    """Queue the conversation for the desk, tell the customer, pause the bot.

    priority urgent puts it at the top of the desk's queue; text None: the
    caller has already told the customer (an emergency's first reply).
    topic: the intent that decides the skill group when the message itself
    only asked for a person ("转人工" after a complaint: 投诉专席)."""
    await in_db(
        record_handoff,
        channel=turn.channel,
        customer_id=turn.customer_id,
        intent=topic or turn.intent,
        reason=reason,
        last_message=turn.text,
        priority=priority,
    )
    # Where the customer stands: nothing more when an agent is free now,
    # else the position and estimate, or why nobody can come (with 留言, or
    # the duty phone for an urgent matter).
    wait = await in_db(on_handoff, turn.customer_id, None, timedelta(seconds=presence_timeout()))
    if wait is not None and not wait.staffed:
        # Still queued: the customer may wait, or leave a message instead.
        # (An emergency's first reply has said it all but this.)
        dispatcher.utter_message(text=("好的，正在为您转接人工客服。" if text else "") + unstaffed_text(wait))
    else:
        if text:
            dispatcher.utter_message(text=text)
        if wait is not None:
            dispatcher.utter_message(text=position_text(wait))
    # Channels with their own human queue (WeCom 微信客服) move the session
    # there when they see this marker; others ignore it.
    dispatcher.utter_message(json_message={HANDOFF_MARKER: True})
    # While paused Rasa logs the customer's messages but predicts nothing;
    # the desk's waiting room answers questions about the wait, and the bot
    # stays silent until the desk sends ConversationResumed.
    return [ConversationPaused()]


def topic_before(tracker: Tracker) -> str | None:
    """The latest intent of the conversation that names a matter (not 转人工,
    thanks or a greeting): what the customer wants a person for."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name and name not in SMALL_TALK and name not in ("nlu_fallback", "out_of_scope"):
            return name
    return None


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    @polite_on_outage
    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        # 转人工 in the middle of an urgent repair keeps it urgent in the queue.
        priority = Priority.urgent.value if urgent_repair_in_progress(tracker) else Priority.normal.value
        # What the customer said just before asking for a person is often what the bot missed.
        before = previous_user_message(tracker)
        said = ((before or {}).get("parse_data") or {}).get("intent") or {}
        if before is not None and said.get("name") not in SMALL_TALK:
            await remember(tracker, "before_handoff", before)
        return await hand_off(
            dispatcher, current_turn(tracker), reason="customer_request", priority=priority, topic=topic_before(tracker)
        )


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the bot did not understand,
    counted since the handoff was last offered (a "不用" starts afresh)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "bot" and event.get("text") == OFFER_TEXT:
            break
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name")
        # An emoji or "嗯" between two misunderstandings neither counts nor
        # resets: the customer is still stuck.
        if intent == "acknowledge":
            continue
        # An order number alone is understood even when the intent is not.
        understood = any(e.get("entity") == "order_id" for e in parse.get("entities") or [])
        if intent != "nlu_fallback" or understood:
            break
        count += 1
    return count


def handoff_offered(tracker: Tracker) -> bool:
    """Whether the bot's last words before this message asked "需要为您转接人工客服吗？"."""
    return bot_text_before(tracker) in (OFFER_TEXT, KB_OFFER_TEXT)


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    @polite_on_outage
    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_kb_reply(dispatcher, tracker)  # "没解决", "2" after the knowledge base spoke
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        # "5" answering a satisfaction survey; an order number alone on a shop
        # chat (that order's status): both understood, whatever the NLU said.
        answer = await survey_reply(turn)
        if answer is None and turn.order_id:
            answer = await order_answer(turn)
        if answer is not None:
            dispatcher.utter_message(text=answer)
            return [FollowupAction("action_listen")]
        in_form = bool((tracker.active_loop or {}).get("name"))
        # Not understood, but clearly a question the knowledge base answers
        # ("包油不", "发或时间"): the answer, not a request to rephrase.
        found, suggested = (None, []) if in_form else await kb_consult(turn, CONFIDENT_WITHOUT_INTENT)
        if found is not None:
            return [*answer_with_feedback(dispatcher, found, turn.channel), FollowupAction("action_listen")]
        await remember(tracker, "fallback")
        # Never offered while the repair form runs: its yes/no would be read
        # as the form's answer ("不用" cancels the repair). The fallback text
        # there already says how to reach a human.
        if consecutive_fallbacks(tracker) >= FALLBACKS_BEFORE_HANDOFF and not in_form:
            dispatcher.utter_message(text=OFFER_TEXT)
            return [FollowupAction("action_listen")]
        # Something like a question it knows ("房子朝向采光咋样"): "您是不是想问"
        # rather than a request to rephrase.
        if suggested:
            return [*offer_suggestions(dispatcher, suggested, turn.channel), FollowupAction("action_listen")]
        dispatcher.utter_message(text=FALLBACK_TEXT)
        # Also used as Rasa's core fallback: without an explicit listen the
        # policy would predict this action again and again.
        return [FollowupAction("action_listen")]


class ActionReplyYesNo(Action):
    """Yes or no outside a form: the answer to the handoff offer when the bot
    just made it, otherwise what any acknowledgement gets."""

    def name(self) -> str:
        return "action_reply_yes_no"

    @polite_on_outage
    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_kb_reply(dispatcher, tracker)  # 解决了/没解决/都不是 read as yes/no
        if settled is not None:
            return settled
        if not handoff_offered(tracker):
            return await ActionAcknowledge().run(dispatcher, tracker, domain)
        turn = current_turn(tracker)
        if turn.intent == "affirm":
            return await hand_off(dispatcher, turn, reason="repeated_fallback", topic=topic_before(tracker))
        dispatcher.utter_message(text=DECLINED_TEXT)
        return []


class ActionSessionStart(Action):
    """Rasa's session start, keeping a handed-off conversation paused.

    A new session (after `session_expiration_time`) resets Rasa's pause; a
    customer who waited over an hour in the queue would get the bot instead of
    the agent. The desk's record says whether a person is responsible.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        try:
            paused = await in_db(in_handoff, tracker.sender_id)
        except OUTAGE_ERRORS as exc:  # the session still starts; the next action answers politely
            logger.error(
                "desk database unreachable at session start for %s: %s", tracker.sender_id, exc.__class__.__name__
            )
            paused = False
        if paused:
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events
