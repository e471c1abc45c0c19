"""When the desk database is unreachable, the customer still gets an answer.

Without this the action fails, Rasa logs it and the customer hears nothing.
The message itself is safe in Rasa's tracker; the operator gets one clear
log line; nothing is half-written because every store call is one
transaction. The engine re-checks connections (pool_pre_ping), so the next
message after the database is back works again by itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

logger = logging.getLogger(__name__)
SYSTEM_BUSY = (
    "非常抱歉，系统暂时繁忙，您的消息我们已经收到，请您稍后再试；"
    "如情况紧急，请直接拨打物业服务中心或店铺客服电话，谢谢您的理解！"
)
OUTAGE_ERRORS = (OperationalError, DBAPIError, ConnectionError, TimeoutError)


def polite_on_outage(run: Callable[..., Awaitable[list[dict[str, Any]]]]):
    @functools.wraps(run)
    async def guarded(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except OUTAGE_ERRORS as exc:
            logger.error(
                "desk database unreachable in %s for %s: %s: %s",
                self.name(),
                tracker.sender_id,
                exc.__class__.__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )
            dispatcher.utter_message(text=SYSTEM_BUSY)
            return []

    return guarded
