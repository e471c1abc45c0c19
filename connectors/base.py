"""What every channel shares.

- Refusals: a channel raises kefu.core.errors.KefuError (BadRequest below for
  a request refused before the bot sees it) and the blueprint made with
  `channel_blueprint` answers it as JSON `{"error": message}` with the error's
  status. Replies that are not errors (WeChat's `success`, its reply XML, the
  REST list of bot messages) stay each channel's own.
- Claim → answer → finish (`PlatformChannel.answer_once`): a platform message
  id is answered once across server processes; a retry of an answered message
  is a duplicate, one being answered elsewhere is told to come back later.
- Send-or-keep (`PlatformChannel.send_or_keep`): every text for a platform is
  checked against the advertising law, sent with the platform's client, and
  kept for an agent (undelivered) if the platform refuses it or cannot be
  reached, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from kefu.core import errors
from kefu.core.db import ThreadedSessions
from kefu.core.deliveries import Claim, claim_delivery, finish_delivery, record_undelivered, release_delivery
from kefu.text.ad_law import check_outgoing

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Not "received": when the conversation store is down the message may not
# have been stored, so the customer is asked to send it again.
SYSTEM_BUSY_REPLY = "抱歉，系统暂时有点忙，请您稍后再发送一次，或回复“转人工”。"
EMPTY_MESSAGE_REPLY = "您好，没有收到您的文字内容，请问有什么可以帮您？"
# The answer (503) to a platform's retry of a message another server is answering.
BEING_ANSWERED = "this message is being answered; retry later"


class BadRequest(errors.BadRequest):
    """A request refused before anything of it reaches the bot: 400, or the
    status given (403: a signature, key or timestamp that does not check out;
    413: a body or text over its limit)."""


def render_error(request: Request, exc: errors.KefuError) -> HTTPResponse:
    """The one Sanic rendering of KefuError; an error class may add `headers`
    (a 401 names its scheme in WWW-Authenticate). Not async: sanic-cors adds
    its headers (the widget's and shops' pages read these answers) only to an
    error response it gets at once, not to a coroutine."""
    return response.json(exc.as_json(), status=exc.status, headers=getattr(exc, "headers", None))


def channel_blueprint(name: str, import_name: str) -> Blueprint:
    """A channel's blueprint; a KefuError raised in any of its routes (and
    only its routes: Sanic scopes a blueprint's exception handlers) is
    answered by render_error."""
    bp = Blueprint(name, import_name)
    bp.exception(errors.KefuError)(render_error)
    return bp


class TurnFailed(Exception):
    """The bot's turn raised (Rasa, its lock store, the tracker store): none
    of its answer was sent. Raised from the original error."""


async def run_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    channel: str,
    text: str,
    sender_id: str,
    message_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One turn of the bot; its messages, or TurnFailed. What a failed turn
    collected is dropped: the customer gets a busy reply or a retry, not half
    an answer. A SystemExit passes unchanged (the caller decides)."""
    collector = CollectingOutputChannel()
    try:
        await on_new_message(
            UserMessage(text, collector, sender_id, input_channel=channel, message_id=message_id, metadata=metadata)
        )
    except Exception as exc:
        raise TurnFailed(f"{channel} message {message_id} from {sender_id} failed ({type(exc).__name__})") from exc
    return collector.messages


def texts_of(messages: list[dict[str, Any]]) -> list[str]:
    """The texts among a turn's messages (images, buttons, custom JSON are not sent as text)."""
    return [m["text"] for m in messages if m.get("text")]


class PlatformChannel(InputChannel):
    """A channel a platform pushes messages to (or that pulls them), each
    with the platform's own id, and whose answers go out with the platform's
    API. Subclasses set `claims` (the namespace of their message ids) and
    `claim_stale_after` when the defaults do not fit, and may name a failed
    send's reason in `undelivered_reason`."""

    # An unfinished claim older than this was left by a server that died
    # mid-turn; a retry (or a later sync) takes it over.
    claim_stale_after: timedelta = timedelta(seconds=30)

    def __init__(self) -> None:
        self.store = ThreadedSessions()  # the desk database, shared by every server process

    @property
    def claims(self) -> str:
        return self.name()

    # -- claim → answer → finish -------------------------------------------
    async def answer_once(
        self, key: str, answer: Callable[[], Awaitable[T]], payload: str | None = None
    ) -> tuple[Claim, T | None]:
        """Claim `key` and, if this server won it, answer and finish it.
        Claim.done (a retry of an answered message) and Claim.in_flight
        (another server is answering it) come back without an answer.
        `payload` keeps the message with the claim, for pulled messages no
        platform retry brings back (taken over with take_over_stale)."""
        claim = await self.store.run(claim_delivery, self.claims, key, None, self.claim_stale_after, payload)
        if claim is not Claim.new:
            return claim, None
        return claim, await self.answer_claimed(key, answer)

    async def answer_claimed(self, key: str, answer: Callable[[], Awaitable[T]]) -> T:
        """Answer a message this server holds the claim of, then finish it.
        If the bot's turn failed (TurnFailed) the claim is released, so the
        platform's retry or the next sync runs the turn again; any other
        failure leaves it unfinished, to be taken over once stale, since part
        of the answer may have been sent already."""
        try:
            result = await answer()
        except TurnFailed:
            await self.store.run(release_delivery, self.claims, key)
            raise
        await self.store.run(finish_delivery, self.claims, key)
        return result

    # -- send-or-keep --------------------------------------------------------
    async def send_or_keep(self, sender_id: str, text: str, deliver: Callable[[str], Awaitable[Any]]) -> bool:
        """Send one text with `deliver` (the platform client's call, given the
        checked text); False when it was kept as undelivered instead."""
        text = check_outgoing(text, self.name(), sender_id)
        try:
            await deliver(text)
            return True
        except Exception as exc:  # refused or unreachable: kept for an agent, never dropped
            logger.warning("%s send to %s failed: %s", self.name(), sender_id, exc)
            await self.store.run(record_undelivered, self.name(), sender_id, text, self.undelivered_reason(exc))
            return False

    def undelivered_reason(self, exc: Exception) -> str:
        """What the desk shows as the reason a text was not delivered."""
        return repr(exc)
