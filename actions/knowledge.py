"""Answers from the knowledge base (知识库) that supervisors edit in the desk.

Each action-server process keeps its own index (kefu.core.knowledge's
KnowledgeCache): it checks the knowledge base's revision at most once a
second and rebuilds when it moved, so an edit reaches every action server
within about a second, with no retraining and no restart. Only a match at
or above CONFIDENT answers; below it the caller does what it would without a
knowledge base (a ticket, a human).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.learning import previous_user_message, remember
from actions.store import in_db
from actions.turn import Turn, bot_text_before
from kefu.core import kb_files, knowledge
from kefu.core.settings import businesses
from kefu.text.kb_feedback import verdict

SLOT = "kb_entry"
FEEDBACK_PROMPT = "这个回答解决您的问题了吗？可以回复“解决了”或“没解决”。"
FEEDBACK_BUTTONS = [
    {"title": "解决了", "payload": "解决了"},
    {"title": "没解决", "payload": "没解决"},
    {"title": "转人工", "payload": "转人工"},  # the widget shows these instead of its usual ones
]
HELPED_TEXT = "很高兴能帮到您！还有其他问题随时问我。"
UNHELPED_TEXT = "抱歉这个回答没能解决您的问题。"
# The yes/no handoff offer after "没解决" (actions/handoff.py reads the answer).
KB_OFFER_TEXT = "需要为您转接人工客服吗？（回复“是”转接，回复“不用”继续由我为您服务）"

# The score above which an answer is given; bench/kb_retrieval.py chose it so
# that at most 5 % of questions the knowledge base does not cover get one.
CONFIDENT = 0.37
# A message the NLU did not understand is answered from the knowledge base
# only when the match is clearly better: such messages are more often
# gibberish or off-topic than the inquiries the threshold was chosen on.
CONFIDENT_WITHOUT_INTENT = 0.5

_cache = knowledge.KnowledgeCache()
_started: list[bool] = []  # once per process: the starter knowledge (kefu.core.kb_files.start)


def _best(session: Session, text: str, at_least: float) -> knowledge.Found | None:
    if not _started:
        kb_files.start(session, businesses())
        _started.append(True)
    found = _cache.current(session).search(text, 1)
    if not found or found[0].score < at_least:
        return None
    knowledge.count_hit(session, found[0].id)
    return found[0]


async def kb_answer(turn: Turn, at_least: float = CONFIDENT) -> knowledge.Found | None:
    """The confident knowledge-base answer to this message, if there is one."""
    if not turn.text:
        return None
    return await in_db(_best, turn.text, at_least)


def answer_with_feedback(
    dispatcher: CollectingDispatcher, found: knowledge.Found, channel: str
) -> list[dict[str, Any]]:
    """The answer and, in the same message (one reply on every platform),
    whether it helped: quick replies on the widget, words elsewhere."""
    dispatcher.utter_message(text=f"{found.text_for(channel)}\n{FEEDBACK_PROMPT}", buttons=FEEDBACK_BUTTONS)
    return [SlotSet(SLOT, found.id)]


def feedback_asked(tracker: Tracker) -> bool:
    """Whether the bot's last words before this message asked if the answer helped."""
    return (bot_text_before(tracker) or "").endswith(FEEDBACK_PROMPT)


async def settle_feedback(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]] | None:
    """The customer's 解决了 / 没解决 right after a knowledge-base answer:
    counted on the entry; 没解决 also goes to 待学习 and offers a human.
    None when this message is not such an answer (the caller goes on)."""
    entry_id = tracker.get_slot(SLOT)
    if type(entry_id) is not int or not feedback_asked(tracker):
        return None
    helped = verdict((tracker.latest_message or {}).get("text") or "")
    if helped is None:
        return None
    await in_db(knowledge.count_feedback, entry_id, helped)
    if helped:
        dispatcher.utter_message(text=HELPED_TEXT)
    else:
        question = previous_user_message(tracker)
        if question is not None:
            await remember(tracker, "unhelpful", question)
        dispatcher.utter_message(text=UNHELPED_TEXT)
        dispatcher.utter_message(text=KB_OFFER_TEXT)
    return [SlotSet(SLOT, None)]
