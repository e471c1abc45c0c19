"""Order events pulled from TMC (`taobao.tmc.messages.consume` / `confirm`).

TMC redelivers whatever is not confirmed, so a message is confirmed only
after its order change is committed. A message that can never be applied
(unknown topic, broken content) is confirmed too, with a clear log line, or
it would come back forever and block the group. A database failure confirms
nothing of what is left: TMC delivers it again and apply_event is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kefu.clients.top_api import TopAPI
from kefu.core.db import ThreadedSessions
from kefu.core.orders import BadTradeEvent, apply_event, parse_tmc

logger = logging.getLogger(__name__)


@dataclass
class PullResult:
    applied: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # confirmed, never applied
    failed: list[str] = field(default_factory=list)  # left for redelivery


def messages_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    messages = result.get("messages") or []
    if isinstance(messages, dict):  # without simplify: {"tmc_message": [...]}
        messages = messages.get("tmc_message") or []
    return list(messages)


async def pull(api: TopAPI, sessions: ThreadedSessions, group_name: str = "default", quantity: int = 100) -> PullResult:
    result = PullResult()
    consumed = await api.call("taobao.tmc.messages.consume", group_name=group_name, quantity=quantity)
    for message in messages_of(consumed):
        msg_id = str(message.get("id") or "")
        if not msg_id:
            logger.error("TMC message without id (cannot be confirmed): %r", message)
            continue
        try:
            event = parse_tmc(message)
        except BadTradeEvent as exc:
            logger.error(
                "TMC message %s (%s) cannot be applied and is confirmed without effect: %s",
                msg_id,
                message.get("topic"),
                exc,
            )
            result.bad.append(msg_id)
            continue
        if result.failed:  # the database is failing: leave the rest to TMC
            result.failed.append(msg_id)
            continue
        try:
            await sessions.run(apply_event, event)
        except Exception:
            logger.exception("TMC message %s not stored; left for redelivery", msg_id)
            result.failed.append(msg_id)
            continue
        result.applied.append(msg_id)
    done = result.applied + result.bad
    if done:
        await api.call("taobao.tmc.messages.confirm", group_name=group_name, s_message_ids=",".join(done))
    if done or result.failed:
        logger.info(
            "TMC %s: %d applied, %d bad (confirmed), %d left for redelivery",
            group_name,
            len(result.applied),
            len(result.bad),
            len(result.failed),
        )
    return result


async def pull_once(api: TopAPI, sessions: ThreadedSessions, group_name: str = "default", quantity: int = 100) -> int:
    """One consume/apply/confirm round; the number of orders changes applied."""
    return len((await pull(api, sessions, group_name, quantity)).applied)
