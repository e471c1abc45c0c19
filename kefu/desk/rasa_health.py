"""Whether Rasa can answer customers, for the desk's /healthz."""
from __future__ import annotations

import asyncio
from typing import Optional

import aiohttp

from kefu.core.settings import Settings


async def model_problem(http: aiohttp.ClientSession, settings: Settings) -> Optional[dict]:
    """None when Rasa has a model; else what is wrong, as /healthz's body.

    Without a loaded model Rasa still accepts every message and answers
    nothing (after `DELETE /model` or a failed `PUT /model`), so a health
    check that only saw the port open would say ok. Rasa's /status answers
    409 then."""
    try:
        async with http.get(f"{settings.rasa_url}/status", params={"token": settings.rasa_token or ""},
                            timeout=aiohttp.ClientTimeout(total=5)) as resp:
            if resp.status == 409:
                return {"model": "missing"}
            if resp.status in (401, 403):
                return {"rasa": "token refused: KEFU_RASA_TOKEN differs from Rasa's"}
            if resp.status != 200:
                return {"rasa": f"HTTP {resp.status}"}
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return {"rasa": f"unreachable: {exc.__class__.__name__}"}
    return None
