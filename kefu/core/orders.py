"""Orders from Taobao/Tmall trade events (TMC), applied idempotently.

TMC delivers at least once and not always in order (a TradeBuyerPay can
arrive before its TradeCreate), so every event is an upsert that only moves
the status forward: unpaid -> paid -> closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.models import SHANGHAI, Order, utcnow

STATUS_RANK = {"unpaid": 0, "paid": 1, "closed": 2}
MAX_PAYMENT = Decimal("10000000")  # yuan; fen must fit the integer column
TOPIC_STATUS = {"TradeCreate": "unpaid", "TradeBuyerPay": "paid", "TradeClose": "closed"}


class BadTradeEvent(ValueError):
    pass


@dataclass(frozen=True)
class TradeEvent:
    platform: str  # taobao | tmall
    status: str  # unpaid | paid | closed
    order_id: str
    shop: str | None
    buyer: str | None
    amount_cents: int | None
    at: datetime


def parse_tmc(message: dict[str, Any]) -> TradeEvent:
    """A TMC message {topic, content (JSON text), pub_time} as a TradeEvent."""
    topic = str(message.get("topic") or "")
    platform, _, kind = topic.partition("_trade_")
    if platform not in ("taobao", "tmall") or kind not in TOPIC_STATUS:
        raise BadTradeEvent(f"unsupported topic {topic!r}")
    try:
        content = message.get("content")
        content = json.loads(content) if isinstance(content, str) else dict(content or {})
    except (json.JSONDecodeError, TypeError, ValueError):
        raise BadTradeEvent("content is not a JSON object")
    if not isinstance(content, dict):
        raise BadTradeEvent("content is not a JSON object")
    order_id = str(content.get("tid") or "").strip()
    # ASCII digits only ("²".isdigit() is true) and what the column holds.
    if not (order_id.isascii() and order_id.isdigit() and len(order_id) <= 32):
        raise BadTradeEvent(f"missing or invalid tid {content.get('tid')!r}")
    amount = None
    if content.get("payment") not in (None, ""):
        try:
            payment = Decimal(str(content["payment"]))
        except InvalidOperation:
            raise BadTradeEvent(f"invalid payment {content['payment']!r}")
        if not payment.is_finite() or not 0 <= payment <= MAX_PAYMENT:
            raise BadTradeEvent(f"invalid payment {content['payment']!r}")
        amount = int(payment * 100)
    try:
        at = datetime.strptime(str(message.get("pub_time")), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        at = utcnow()

    def text(key: str) -> str | None:
        value = content.get(key)
        return str(value)[:128] if value not in (None, "") else None

    # A buyer is known by nick, or only by open_uid (as the chat channel does too).
    return TradeEvent(
        platform=platform,
        status=TOPIC_STATUS[kind],
        order_id=order_id,
        shop=text("seller_nick"),
        buyer=text("buyer_nick") or text("buyer_open_uid"),
        amount_cents=amount,
        at=at,
    )


def apply_event(session: Session, event: TradeEvent) -> Order:
    """Upsert the order; a repeated or late event never moves it backwards."""
    for _attempt in range(2):
        # Trade ids are unique across Taobao and Tmall, and a Tmall trade may
        # arrive on taobao_trade and tmall_trade topics: one row per tid.
        order = session.execute(select(Order).where(Order.order_id == event.order_id)).scalar_one_or_none()
        if order is None:
            order = Order(platform=event.platform, order_id=event.order_id, status=event.status)
            session.add(order)
        order.shop = order.shop or event.shop
        order.buyer = order.buyer or event.buyer
        if event.amount_cents is not None and order.amount_cents is None:
            order.amount_cents = event.amount_cents
        if STATUS_RANK[event.status] > STATUS_RANK[order.status]:
            order.status = event.status
        stamp = {"unpaid": "created_at", "paid": "paid_at", "closed": "closed_at"}[event.status]
        if getattr(order, stamp) is None:
            setattr(order, stamp, event.at)
        order.updated_at = utcnow()
        try:
            session.commit()
            return order
        except IntegrityError:  # another worker inserted it first: update that row
            session.rollback()
    raise RuntimeError("order upsert kept conflicting")


SHOP_PLATFORMS = ("taobao", "tmall")


def orders_of(session: Session, platform: str, buyer: str) -> list[Order]:
    """Only this buyer's orders: the bot never shows another buyer's order.

    Taobao and Tmall share buyer accounts (and Tmall trades also arrive on
    taobao_trade topics), so a nick on either channel sees both platforms.
    """
    platforms = SHOP_PLATFORMS if platform in SHOP_PLATFORMS else (platform,)
    return list(
        session.execute(
            select(Order).where(Order.platform.in_(platforms), Order.buyer == buyer).order_by(Order.id.desc())
        ).scalars()
    )
