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
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desk.models import SHANGHAI, Order, utcnow

STATUS_RANK = {"unpaid": 0, "paid": 1, "closed": 2}
TOPIC_STATUS = {"TradeCreate": "unpaid", "TradeBuyerPay": "paid", "TradeClose": "closed"}


class BadTradeEvent(ValueError):
    pass


@dataclass(frozen=True)
class TradeEvent:
    platform: str          # taobao | tmall
    status: str            # unpaid | paid | closed
    order_id: str
    shop: Optional[str]
    buyer: Optional[str]
    amount_cents: Optional[int]
    at: datetime


def parse_tmc(message: Dict[str, Any]) -> TradeEvent:
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
    order_id = str(content.get("tid") or "").strip()
    if not order_id.isdigit():
        raise BadTradeEvent(f"missing or invalid tid {content.get('tid')!r}")
    amount = None
    if content.get("payment") not in (None, ""):
        try:
            amount = int(Decimal(str(content["payment"])) * 100)
        except InvalidOperation:
            raise BadTradeEvent(f"invalid payment {content['payment']!r}")
    try:
        at = datetime.strptime(str(message.get("pub_time")), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        at = utcnow()
    return TradeEvent(platform=platform, status=TOPIC_STATUS[kind], order_id=order_id,
                      shop=content.get("seller_nick"), buyer=content.get("buyer_nick"),
                      amount_cents=amount, at=at)


def apply_event(session: Session, event: TradeEvent) -> Order:
    """Upsert the order; a repeated or late event never moves it backwards."""
    for attempt in range(2):
        order = session.execute(select(Order).where(
            Order.platform == event.platform, Order.order_id == event.order_id)).scalar_one_or_none()
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


def orders_of(session: Session, platform: str, buyer: str) -> List[Order]:
    """Only this buyer's orders: the bot never shows another buyer's order.

    Taobao and Tmall share buyer accounts (and Tmall trades also arrive on
    taobao_trade topics), so a nick on either channel sees both platforms.
    """
    platforms = SHOP_PLATFORMS if platform in SHOP_PLATFORMS else (platform,)
    return list(session.execute(select(Order).where(
        Order.platform.in_(platforms), Order.buyer == buyer).order_by(Order.id.desc())).scalars())
