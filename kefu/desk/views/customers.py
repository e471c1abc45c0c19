"""What the conversation view shows beside the chat: the customer card,
the customer's shop orders, and texts a platform refused to deliver."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from kefu.core import customer_card, deliveries, orders
from kefu.core.models import local_iso
from kefu.desk.requests import in_db


async def customer_orders(request: web.Request) -> web.Response:
    """A shop customer's orders (taobao:<buyer> / tmall:<buyer>)."""
    customer_id = request.match_info["customer_id"]
    platform, _, buyer = customer_id.partition(":")
    found = await in_db(request, orders.orders_of, platform, buyer) if buyer else []
    return web.json_response(
        {
            "orders": [
                {
                    "order_id": o.order_id,
                    "platform": o.platform,
                    "shop": o.shop,
                    "status": o.status,
                    "amount": f"{(o.amount_cents or 0) / 100:.2f}" if o.amount_cents is not None else None,
                    "created_at": local_iso(o.created_at),
                }
                for o in found
            ]
        }
    )


async def customer_card_view(request: web.Request) -> web.Response:
    """The customer card: channel, display name, past conversations and
    tickets, bills and facts (kefu.core.customer_card)."""
    return web.json_response(await in_db(request, customer_card.card, request.match_info["customer_id"]))


async def list_undelivered(request: web.Request) -> web.Response:
    """Texts a platform refused (e.g. WeChat 45015), `?customer_id=` for one
    customer: an agent follows up."""
    rows = await in_db(request, partial(deliveries.list_undelivered, customer_id=request.query.get("customer_id")))
    return web.json_response({"undelivered": [deliveries.undelivered_to_json(r) for r in rows]})
