"""Answers from the knowledge base (知识库) that supervisors edit in the desk.

Each action-server process keeps its own index (kefu.core.knowledge's
KnowledgeCache): it checks the knowledge base's revision at most once a
second and rebuilds when it moved, so an edit reaches every action server
within about a second, with no retraining and no restart. Only a match at
or above CONFIDENT answers; below it the caller does what it would without a
knowledge base (a ticket, a human).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions.store import in_db
from actions.turn import Turn
from kefu.core import kb_files, knowledge
from kefu.core.settings import businesses

# The score above which an answer is given; bench/kb_retrieval.py chose it so
# that at most 5 % of questions the knowledge base does not cover get one.
CONFIDENT = 0.35

_cache = knowledge.KnowledgeCache()
_started: list[bool] = []  # once per process: the starter knowledge (kefu.core.kb_files.start)


def _best(session: Session, text: str) -> knowledge.Found | None:
    if not _started:
        kb_files.start(session, businesses())
        _started.append(True)
    found = _cache.current(session).search(text, 1)
    if not found or found[0].score < CONFIDENT:
        return None
    knowledge.count_hit(session, found[0].id)
    return found[0]


async def kb_answer(turn: Turn) -> knowledge.Found | None:
    """The confident knowledge-base answer to this message, if there is one."""
    if not turn.text:
        return None
    return await in_db(_best, turn.text)
