"""Answers from the knowledge base (知识库) that supervisors edit in the desk.

Each action-server process keeps its own index (kefu.core.knowledge's
KnowledgeCache): it checks the knowledge base's revision at most once a
second and rebuilds when it moved, so an edit reaches every action server
within about a second, with no retraining and no restart. Only a match at
or above CONFIDENT answers; below it the caller does what it would without a
knowledge base (a ticket, a human).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.learning import previous_user_message, remember
from actions.store import in_db
from actions.tickets import inquiry_ticket
from actions.turn import Turn, bot_text_before, current_turn
from kefu.core import kb_files, knowledge
from kefu.core.settings import businesses
from kefu.text.kb_feedback import verdict
from kefu.text.kb_pick import NONE_OF_THEM, pick

SLOT = "kb_entry"
OFFERED_SLOT = "kb_offered"  # [[entry id, question], …] while "您是不是想问" waits for a choice
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
# Below CONFIDENT but at or above SUGGEST the bot asks "您是不是想问" with
# the best entries (猜您想问): on bench/kb_retrieval.py's paraphrases the
# right entry is among them for most questions it cannot answer outright.
SUGGEST = 0.2
SUGGESTED = 3
SUGGEST_PROMPT = "您是不是想问以下问题？"
NONE_OF_THEM_TEXT = "都不是"
NOT_FOUND_TEXT = "抱歉没能找到您要问的问题。"
WIDGET_CHANNEL = "socketio"  # the only channel that shows buttons

_cache = knowledge.KnowledgeCache()
_started: list[bool] = []  # once per process: the starter knowledge (kefu.core.kb_files.start)


def _snapshot(session: Session) -> knowledge.Snapshot:
    if not _started:
        kb_files.start(session, businesses())
        _started.append(True)
    return _cache.current(session)


def _consult(session: Session, text: str, at_least: float) -> tuple[knowledge.Found | None, list[knowledge.Found]]:
    found = _snapshot(session).search(text, SUGGESTED)
    if found and found[0].score >= at_least:
        knowledge.count_hit(session, found[0].id)
        return found[0], []
    return None, [f for f in found if f.score >= SUGGEST]


async def kb_consult(turn: Turn, at_least: float = CONFIDENT) -> tuple[knowledge.Found | None, list[knowledge.Found]]:
    """One search: (the confident answer, []) or (None, the entries worth
    offering as "您是不是想问", best first, maybe none)."""
    if not turn.text:
        return None, []
    return await in_db(_consult, turn.text, at_least)


async def kb_answer(turn: Turn, at_least: float = CONFIDENT) -> knowledge.Found | None:
    """The confident knowledge-base answer to this message, if there is one."""
    return (await kb_consult(turn, at_least))[0]


def offer_suggestions(
    dispatcher: CollectingDispatcher, suggested: list[knowledge.Found], channel: str
) -> list[dict[str, Any]]:
    """Ask which of the entries the customer means: numbered on every
    channel, one button per question on the widget (it sends the number)."""
    lines = "\n".join(f"{n}. {f.question}" for n, f in enumerate(suggested, start=1))
    how = "点击下方问题或回复序号" if channel == WIDGET_CHANNEL else "回复序号"
    text = f"{SUGGEST_PROMPT}\n{lines}\n请{how}查看答案；都不是请回复“{NONE_OF_THEM_TEXT}”。"
    buttons = [{"title": f.question, "payload": str(n)} for n, f in enumerate(suggested, start=1)]
    buttons.append({"title": NONE_OF_THEM_TEXT, "payload": NONE_OF_THEM_TEXT})
    dispatcher.utter_message(text=text, buttons=buttons)
    return [SlotSet(OFFERED_SLOT, [[f.id, f.question] for f in suggested])]


def _entry(session: Session, entry_id: int) -> knowledge.Found | None:
    found = _snapshot(session).entry(entry_id)
    if found is not None:
        knowledge.count_hit(session, found.id)
    return found


async def settle_pick(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]] | None:
    """The customer's choice right after "您是不是想问": that entry's answer;
    "都不是": the question goes to a person as before (a 咨询 ticket). None
    when this message is not such a choice (the caller goes on)."""
    offered = tracker.get_slot(OFFERED_SLOT)
    if not isinstance(offered, list) or not (bot_text_before(tracker) or "").startswith(SUGGEST_PROMPT):
        return None
    turn = current_turn(tracker)
    choice = pick(turn.text, [str(question) for _id, question in offered])
    if choice is None:
        return None
    cleared = SlotSet(OFFERED_SLOT, None)
    found = None if choice == NONE_OF_THEM else await in_db(_entry, int(offered[choice - 1][0]))
    if found is not None:
        return [*answer_with_feedback(dispatcher, found, turn.channel), cleared]
    question = previous_user_message(tracker)
    original = dataclasses.replace(turn, text=((question or {}).get("text") or turn.text).strip())
    dispatcher.utter_message(text=NOT_FOUND_TEXT + await inquiry_ticket(original))
    return [cleared]


async def settle_kb_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]] | None:
    """A reply to what the knowledge base just said: whether an answer
    helped, or which suggested question was meant. None otherwise."""
    settled = await settle_feedback(dispatcher, tracker)
    if settled is None:
        settled = await settle_pick(dispatcher, tracker)
    return settled


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
