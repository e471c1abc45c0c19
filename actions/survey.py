"""The customer's answer to a 满意度调查, whichever way the NLU read "5" or "满意"."""

from __future__ import annotations

from actions.store import in_db
from actions.turn import Turn
from kefu.core import surveys


async def survey_reply(turn: Turn) -> str | None:
    """A thank-you when this message answers the customer's open survey, else None."""
    if surveys.parse_score(turn.text) is None:
        return None
    answered = await in_db(surveys.answer, turn.customer_id, turn.text)
    return surveys.thanks(*answered) if answered else None
