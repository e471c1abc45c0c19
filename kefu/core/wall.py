"""The supervisor's wall: every agent's presence and load, each group's
queue (length, longest wait, agents online), and the conversations still
waiting for a first answer (waiting, or assigned and not answered yet)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from kefu.core.conversations import DESK_STATUSES, conversation_to_json, list_conversations
from kefu.core.models import ConversationStatus, local_iso, utcnow
from kefu.core.routing import ONLINE, PRESENCE_TIMEOUT, list_agents, list_groups, positions


def wall(session: Session, now: datetime | None = None, timeout: timedelta = PRESENCE_TIMEOUT) -> dict:
    now = now or utcnow()
    agents = list_agents(session, now=now)
    names = {a["id"]: a["name"] for a in agents}
    listed = [c for c in list_conversations(session, None) if c.status in DESK_STATUSES]
    places = positions(session, listed)
    unanswered = [c for c in listed if c.first_reply_at is None]
    groups = []
    for group in list_groups(session):
        waiting = [c for c in listed if c.id in places and places[c.id][0] == group.name]
        longest = max((now - c.waiting_since for c in waiting if c.waiting_since), default=None)
        groups.append(
            {
                "group": group.name,
                "waiting": len(waiting),
                "longest_wait_seconds": int(longest.total_seconds()) if longest is not None else None,
                "online": sum(
                    1
                    for a in agents
                    if a["status"] == ONLINE
                    and not a["disabled"]
                    and (a["groups"] is None or group.name in a["groups"])
                ),
            }
        )
    return {
        "at": local_iso(now),
        "agents": [a for a in agents if not a["disabled"]],
        "groups": groups,
        "unanswered": [
            {
                **conversation_to_json(c, places.get(c.id)),
                "agent": names.get(c.assignee_id) if c.assignee_id else None,
                "waited_seconds": int((now - c.waiting_since).total_seconds()) if c.waiting_since else None,
            }
            for c in unanswered
            if c.status == ConversationStatus.waiting.value or c.assignee_id is not None
        ],
    }
