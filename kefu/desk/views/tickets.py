"""Tickets (工单): the list, one ticket with its timeline, taking one and
moving it along its life; and the follow-up calls (回访) resolved repairs get."""

from __future__ import annotations

import logging
from functools import partial

from aiohttp import web

from kefu.core import media, surveys, ticket_flow, tickets
from kefu.core.errors import BadRequest, NotFound
from kefu.core.models import TicketStatus
from kefu.core.permissions import can_take_reopened_ticket
from kefu.desk.rasa_client import RasaUnavailable
from kefu.desk.requests import AGENT, RASA, in_db, int_param, read_json, text_field
from kefu.text.received import whole_number

log = logging.getLogger(__name__)


async def list_tickets(request: web.Request) -> web.Response:
    q = request.query
    status = q.get("status")
    if status is not None and status not in TicketStatus.__members__:
        raise BadRequest(f"unknown status {status!r}")
    owner = q.get("owner_id")
    found = await in_db(
        request,
        partial(
            tickets.list_tickets,
            customer_id=q.get("customer_id"),
            status=status,
            category=q.get("category"),
            channel=q.get("channel"),
            owner_id=whole_number(owner, "owner_id") if owner is not None else None,
            overdue=q.get("overdue") == "true",
            chased=q.get("chased") == "true",
        ),
    )
    return web.json_response({"tickets": [tickets.ticket_to_json(t) for t in found]})


async def ticket_detail(request: web.Request) -> web.Response:
    ticket_id = int_param(request, "ticket_id")
    found = await in_db(request, lambda s: s.get(tickets.Ticket, ticket_id))
    if found is None:
        raise NotFound("no such ticket")
    events = await in_db(request, ticket_flow.timeline, ticket_id)
    attached = await in_db(request, media.of_ticket, ticket_id)
    owner = await in_db(request, tickets.owner_name, found)
    conversation_id = await in_db(request, tickets.conversation_of, found.customer_id)
    return web.json_response(
        {
            "ticket": {**tickets.ticket_to_json(found), "owner": owner, "conversation_id": conversation_id},
            "timeline": events,
            "media": [media.media_to_json(m) for m in attached],
        }
    )


async def take_ticket(request: web.Request) -> web.Response:
    """Owned by someone else: tickets.TicketAlreadyOwned, a 409."""
    ticket_id = int_param(request, "ticket_id")
    ticket = await in_db(
        request, tickets.take_ticket, ticket_id, request[AGENT].id, can_take_reopened_ticket(request[AGENT])
    )
    if ticket is None:
        raise NotFound("no such ticket")
    return web.json_response({"ticket": tickets.ticket_to_json(ticket)})


async def move_ticket(request: web.Request) -> web.Response:
    """`{"status", "note"}`; ticket_flow.move refuses (TicketMoveRefused) what
    the ticket's life or the agent's role does not allow."""
    body = await read_json(request)
    to, note = text_field(body, "status"), text_field(body, "note") or ""
    if to not in TicketStatus.__members__:
        raise BadRequest("status must be one of " + ", ".join(TicketStatus.__members__))
    moved = await in_db(request, ticket_flow.move, int_param(request, "ticket_id"), request[AGENT], to, note[:500])
    survey_sent = False
    if moved.status == TicketStatus.closed.value:
        # 满意度调查 on the customer's own channel, once per ticket.
        survey = await in_db(request, surveys.open_survey, moved)
        if survey is not None:
            try:
                await request.app[RASA].say(moved.customer_id, surveys.question(moved), moved.channel)
                survey_sent = True
            except RasaUnavailable:
                # Not asked, so nothing the customer says later is read as a score.
                await in_db(request, surveys.forget, survey.id)
                log.warning("survey for ticket %s not delivered", moved.id)
    return web.json_response({"ticket": tickets.ticket_to_json(moved), "survey_sent": survey_sent})


async def list_followups(request: web.Request) -> web.Response:
    found = await in_db(request, ticket_flow.open_followups)
    return web.json_response({"followups": [ticket_flow.followup_to_json(f) for f in found]})


async def complete_followup(request: web.Request) -> web.Response:
    """By the ticket's owner or a supervisor (else TicketMoveRefused, 403)."""
    body = await read_json(request)
    note = text_field(body, "note") or ""
    done = await in_db(
        request, ticket_flow.complete_followup, int_param(request, "followup_id"), request[AGENT], note[:500]
    )
    if done is None:
        raise NotFound("no such follow-up")
    return web.json_response({"followup": ticket_flow.followup_to_json(done)})
