"""Kefu's Rasa channels in this process, for the fast tier: every channel in
bot/credentials.yml built as Rasa builds it (its credentials, with the
environment `kefu run` gives), mounted under /webhooks/ on a Sanic app served
on loopback. Only Rasa's message handler is replaced, by a Recorder that keeps
each UserMessage and answers with canned bot texts through the message's own
output channel; parsing, signature checks, claims in the desk database and
replies are the channels' own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import urljoin

from tests.support.loop import background_loop
from tests.support.stack import ROOT, free_port


class Recorder:
    """Stands in for Rasa's `agent.handle_message`."""

    def __init__(self, replies: Sequence[str] = ("您好，请问有什么可以帮您？",)) -> None:
        self.replies = list(replies)
        self.by_sender: dict[str, list[str]] = {}
        self.messages: list = []

    def answer(self, sender_id: str, *texts: str) -> None:
        """What the bot says to this customer (else the default replies)."""
        self.by_sender[sender_id] = list(texts)

    async def __call__(self, message) -> None:
        self.messages.append(message)
        for text in self.by_sender.get(message.sender_id, self.replies):
            await message.output_channel.send_text_message(message.sender_id, text)

    def texts_from(self, sender_id: str) -> list[str]:
        return [m.text for m in self.messages if m.sender_id == sender_id]


@dataclass
class Channels:
    rasa_url: str  # where the channels answer, as on the Rasa server
    database_url: str
    recorder: Recorder
    inputs: list[Any]  # the InputChannel objects, as Rasa built them
    run: Callable[[Any], Any]  # runs a coroutine on the channels' event loop, returns its result


@contextmanager
def running_channels(database_url: str, env: dict[str, str], recorder: Recorder) -> Iterator[Channels]:
    from rasa.core.run import create_http_input_channels
    from sanic import Sanic

    from kefu.core.db import upgrade
    from kefu.runtime.supervisor import CHANNEL_DEFAULTS

    upgrade(database_url)
    settings = {**CHANNEL_DEFAULTS, **env, "KEFU_DATABASE_URL": database_url}
    with mock.patch.dict(os.environ, settings):
        channels = create_http_input_channels(None, str(ROOT / "bot" / "credentials.yml"))
        app = Sanic(f"kefu_fast_{uuid.uuid4().hex[:8]}")
        for channel in channels:
            app.blueprint(channel.blueprint(recorder), url_prefix=urljoin("/webhooks/", channel.url_prefix()))
        port = free_port()
        with background_loop() as (_loop, on_loop):

            async def start():
                server = await app.create_server(
                    host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
                )
                await server.startup()
                await server.before_start()
                await server.after_start()
                return server

            server = on_loop(start())
            try:
                yield Channels(
                    rasa_url=f"http://127.0.0.1:{port}",
                    database_url=database_url,
                    recorder=recorder,
                    inputs=list(channels),
                    run=on_loop,
                )
            finally:

                async def finish():
                    await server.before_stop()
                    server.close()
                    await server.wait_closed()
                    await server.after_stop()

                on_loop(finish())
