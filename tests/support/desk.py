"""The desk (kefu.desk's aiohttp app) in this process, for the fast tier: on
aiohttp's TestServer (a real loopback port, so the tests speak plain HTTP to
it as to the stack's desk) over a migrated SQLite database, next to a tiny
stand-in for Rasa's /status that the desk's /healthz asks (and its
`PUT /model`, which records the model files it was asked to load)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.agents import add_agent, login
from tests.support.loop import background_loop


@dataclass
class Desk:
    desk_url: str
    database_url: str
    rasa_url: str  # the stand-in's: what the desk's pages name as the chat server
    rasa_token: str
    env: dict[str, str] = field(default_factory=dict)
    models_loaded: list[str] = field(default_factory=list)  # PUT /model bodies' model_file, in order

    @property
    def url(self) -> str:
        return self.desk_url

    def add_agent(self, role: str = "agent", prefix: str = "agent") -> tuple[str, str]:
        """A new agent through `kefu agent add`; (name, one-time password)."""
        return add_agent(self.env, role, prefix)

    def login(self, name: str, password: str) -> str:
        return login(self.desk_url, name, password)

    def token(self, role: str = "agent") -> str:
        return self.login(*self.add_agent(role))


def fake_rasa(token: str, models_loaded: list[str] | None = None) -> web.Application:
    """Rasa's GET /status as the desk's health check reads it: 200 with the
    model for the right token, 401 otherwise; PUT /model appends the file to
    models_loaded."""

    async def status(request: web.Request) -> web.Response:
        if request.query.get("token") != token:
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        return web.json_response({"model_file": "models/fake.tar.gz", "num_active_training_jobs": 0})

    async def load_model(request: web.Request) -> web.Response:
        if request.query.get("token") != token:
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        (models_loaded if models_loaded is not None else []).append((await request.json())["model_file"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_put("/model", load_model)
    return app


@contextmanager
def running_desk(database_url: str) -> Iterator[Desk]:
    """create_app(settings) as `kefu desk` builds it, served until the block ends."""
    from kefu.core.db import upgrade
    from kefu.core.settings import load_settings
    from kefu.desk.app import create_app

    upgrade(database_url)
    token = uuid.uuid4().hex
    models_loaded: list[str] = []
    with background_loop() as (loop, on_loop):
        rasa = TestServer(fake_rasa(token, models_loaded), host="127.0.0.1")
        on_loop(rasa.start_server(loop=loop))
        env = {
            "KEFU_DATABASE_URL": database_url,
            "KEFU_RASA_URL": str(rasa.make_url("")).rstrip("/"),
            "KEFU_RASA_TOKEN": token,
            # Uploaded media beside the test's database, never in the project's var/.
            "KEFU_MEDIA_DIR": tempfile.mkdtemp(prefix="kefu-media-"),
            # Model files a test makes, never in the project's models/.
            "KEFU_MODELS_DIR": tempfile.mkdtemp(prefix="kefu-models-"),
            # Rasa's event file the desk follows: its own, never the project's var/.
            "KEFU_EVENTS_DB": str(Path(tempfile.mkdtemp(prefix="kefu-events-")) / "rasa_events.db"),
        }
        with mock.patch.dict(os.environ, env):
            settings = load_settings()
        server = TestServer(create_app(settings), host="127.0.0.1")
        on_loop(server.start_server(loop=loop))
        try:
            yield Desk(
                desk_url=str(server.make_url("")).rstrip("/"),
                database_url=database_url,
                rasa_url=env["KEFU_RASA_URL"],
                rasa_token=token,
                env=env,
                models_loaded=models_loaded,
            )
        finally:
            on_loop(server.close())
            on_loop(rasa.close())
