"""Rasa's calls to the action server over kept-alive connections.

Rasa's `EndpointConfig.request` opens a new aiohttp session (a new TCP
connection) for every action call and encodes the whole tracker and
domain with the standard json module: about 1.7 ms of the Rasa process's
CPU per message in bench/chat_load.py (issue 16). This keeps one session
per endpoint configuration and event loop, encodes bodies once with ujson
(already installed with Rasa), and otherwise behaves as Rasa's own method:
the same headers, parameters, errors (ClientResponseError for a status of
400 and above) and answer (the JSON body, or None).

Event classes are also resolved from a table built once instead of a walk
over every Event subclass for each event of every action's answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Any

import aiohttp
import ujson

logger = logging.getLogger(__name__)
_sessions: dict[tuple[int, int], aiohttp.ClientSession] = {}


def _dumps(body: Any) -> bytes:
    # As json.dumps would, minus the escaping of "/" and non-ASCII (the
    # action server reads either).
    return ujson.dumps(body, ensure_ascii=False, escape_forward_slashes=False).encode("utf-8")


def _session(endpoint: Any) -> aiohttp.ClientSession:
    key = (id(asyncio.get_running_loop()), id(endpoint))
    found = _sessions.get(key)
    if found is None or found.closed:
        found = _sessions[key] = endpoint.session()
    return found


async def close_sessions() -> None:
    """When the server stops: no "unclosed client session" at exit."""
    for session in list(_sessions.values()):
        if not session.closed:
            await session.close()
    _sessions.clear()


async def request(
    self: Any,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any:
    """EndpointConfig.request over a kept-alive session (see the module)."""
    from rasa.utils.endpoints import ClientResponseError, concat_url

    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    if "json" in kwargs:
        kwargs["data"] = _dumps(kwargs.pop("json"))
    url = concat_url(self.url, subpath)
    sslcontext = None
    if self.cafile:
        if not os.path.exists(self.cafile):
            from rasa.shared.exceptions import FileNotFoundException

            raise FileNotFoundException(
                f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not exist."
            )
        sslcontext = ssl.create_default_context(cafile=self.cafile)
    async with _session(self).request(
        method,
        url,
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        ssl=sslcontext,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json(loads=ujson.loads)
        except aiohttp.ContentTypeError:
            return None


def _resolve_by_type_cached(original: Any) -> Any:
    table: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = table.get(type_name)
        if found is None:
            found = original(type_name, default)
            # Only real classes are remembered: a default stands for "unknown".
            if found is not None and found is not default:
                table[type_name] = found
        return found

    return staticmethod(resolve_by_type)


def install() -> None:
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.request = request  # type: ignore[method-assign]
    Event.resolve_by_type = _resolve_by_type_cached(Event.resolve_by_type)  # type: ignore[method-assign]
