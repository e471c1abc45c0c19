"""Who may do what: the two roles and every check on them, in one place.

An agent answers customers and works the tickets they own (谁受理谁负责);
a supervisor may also act on anyone's tickets and conversations, manage
agent accounts, edit the canned replies and read the weekly report.
Answering a conversation has no check here: the first agent to take it keeps
it, and kefu.core.routing.take decides that under the routing lock.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class Role(str, Enum):
    """Stored as its value in `agents.role` and sent as such in JSON."""

    agent = "agent"
    supervisor = "supervisor"


ROLES = tuple(role.value for role in Role)


def is_supervisor(agent: Any) -> bool:
    return agent.role == Role.supervisor.value


def can_manage_agents(agent: Any) -> bool:
    """List, disable and unlock agent accounts."""
    return is_supervisor(agent)


def can_edit_canned_replies(agent: Any) -> bool:
    """Add, change and delete canned replies (everyone may read them)."""
    return is_supervisor(agent)


def can_edit_knowledge(agent: Any) -> bool:
    """Add, change, disable and delete knowledge-base entries (everyone may read them)."""
    return is_supervisor(agent)


def can_teach_bot(agent: Any) -> bool:
    """Review what the bot did not understand (待学习) and teach it."""
    return is_supervisor(agent)


def can_read_reports(agent: Any) -> bool:
    return is_supervisor(agent)


def can_take_reopened_ticket(agent: Any) -> bool:
    """A ticket reopened after it was closed (e.g. a poor satisfaction score)
    is for a supervisor to take; any agent takes a new one."""
    return is_supervisor(agent)


def can_move_ticket(agent: Any, owner_id: int | None) -> bool:
    """The ticket's owner or a supervisor."""
    return is_supervisor(agent) or owner_id == agent.id


def can_act_on_followup(agent: Any, ticket_owner_id: int | None) -> bool:
    """A 回访 is done by whoever may move its ticket."""
    return can_move_ticket(agent, ticket_owner_id)


def can_hand_back_conversation(agent: Any, assignee_id: int | None) -> bool:
    """Handing a conversation back to the bot, or closing it, is for the agent
    serving it (or anyone while nobody is) or a supervisor: another agent must
    not get round a take-over's 409 this way."""
    return assignee_id in (None, agent.id) or is_supervisor(agent)
