"""Start `rasa` with three measured hot-path fixes and the ad-law check applied.

Rasa 3.6 checks every action-server reply with `jsonschema.validate(result,
schema)`. That call validates the *schema itself* against the metaschema
before validating the reply, on every action: about a third of Rasa's CPU
per message in bench/chat_load.py. Building the validator once per process
gives the same checks (same schema, same errors) without the repeated work.
The SQLite tracker store also gets WAL and a kept-open connection, and a
tracker-store failure fails the turn instead of falling back to an empty
in-memory conversation, and customer ids in the HTTP API's paths are
percent-decoded, so every client names a conversation by the id the channel
stored (below). Everything else is plain `rasa`.
"""
from __future__ import annotations

import logging
import sys
from functools import lru_cache
from typing import Any, Dict, Text

logger = logging.getLogger("kefu.rasa_server")


@lru_cache(maxsize=1)
def _action_result_validator():
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would each time
    return cls(schema)


def _validate_action_result(self, result: Dict[Text, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _action_result_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your "
            f"response from the Action endpoint is valid. See {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def _sqlite_tracker_pragmas(dbapi_conn, _record) -> None:
    """WAL for Rasa's SQLite tracker store.

    In its default rollback-journal mode every saved turn waits for an fsync
    inside Rasa's event loop. WAL with synchronous=NORMAL survives a crash of
    any process; only an OS crash or power loss can drop the last turns.
    """
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _tracker_engine_kwargs(original):
    """Keep Rasa's SQLite tracker connection open between turns.

    SQLAlchemy 1.4 gives file-based SQLite a NullPool, so Rasa opened, set up
    and closed a connection for every read and every save. Rasa uses the
    engine from its single event-loop thread, which SingletonThreadPool fits.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import SingletonThreadPool

    def kwargs(url):
        found = dict(original(url))
        if make_url(str(url)).get_backend_name() == "sqlite":
            found.setdefault("poolclass", SingletonThreadPool)
        else:
            # After a PostgreSQL restart the pooled connections are dead; a
            # ping replaces them, so the first turn afterwards works.
            found.setdefault("pool_pre_ping", True)
        return found

    return kwargs


def _ad_law_checked(original):
    """Every bot text on every channel passes the advertising-law check.

    `OutputChannel.send_response` is where Rasa hands each bot message to a
    channel, its own socket.io channel included; the Kefu channels check
    again before sending, which changes nothing on an already clean text.
    """
    from desk.ad_law import check_outgoing

    async def send_response(self, recipient_id, message):
        if isinstance(message.get("text"), str):
            message = {**message, "text": check_outgoing(message["text"], self.name(), recipient_id)}
        return await original(self, recipient_id, message)

    return send_response


async def _socketio_custom_json(self, recipient_id, json_message, **kwargs):
    """Rasa 3.6 emits a custom payload as keyword arguments of `emit`, which
    fails for any key but `data`; the widget gets it as the event's data."""
    await self._send_message(recipient_id, json_message)


def _decoded_conversation_ids(original_create_app):
    """One customer id on both sides of Rasa's HTTP API.

    Sanic 21.12 hands path parameters to Rasa still percent-encoded, so the
    desk's `/conversations/%E5%B0%8F%E6%98%8E/tracker` (how any client must
    send 小明, or an id with `/ ? # %` or a space) named a phantom conversation
    "%E5%B0%8F%E6%98%8E" beside the real one. The rule is now the URL's: the
    path carries the id's UTF-8 bytes percent-encoded, and Rasa sees the id
    exactly as the channel stored it. Bytes that are not UTF-8 get a 400.
    """
    from urllib.parse import unquote

    async def decode(request):
        from sanic import response

        encoded = (request.match_info or {}).get("conversation_id")
        if not isinstance(encoded, str) or "%" not in encoded:
            return None
        try:
            request.match_info = {**request.match_info, "conversation_id": unquote(encoded, errors="strict")}
        except UnicodeDecodeError:
            return response.json({"status": "failure", "reason": "BadRequest", "code": 400,
                                  "message": "the conversation id in the path is not percent-encoded UTF-8"},
                                 status=400)
        return None

    def create_app(*args, **kwargs):
        app = original_create_app(*args, **kwargs)
        app.register_middleware(decode, "request")
        return app

    return create_app


class ConversationStoreUnavailable(RuntimeError):
    """The tracker store (PostgreSQL or the SQLite file) cannot be read or written."""


def _tracker_store_down(self, error: Exception) -> None:
    """Rasa's FailSafeTrackerStore carries on with an empty in-memory
    conversation when the tracker store fails: the bot would greet a customer
    in the middle of a repair form, answer one an agent is serving (the pause
    is forgotten), and what it said would be lost when the database returns.
    Failing the turn instead makes the channel answer "system busy" and lets
    the platform or the customer send it again."""
    logger.error("conversation store unreachable (%s): %s; the turn is refused",
                 self._tracker_store.__class__.__name__, str(error).splitlines()[0][:300])
    raise ConversationStoreUnavailable(str(error)) from error


def apply() -> None:
    import rasa.core.tracker_store as tracker_store
    import rasa.server
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.actions.action import RemoteAction
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    RemoteAction._validate_action_result = _validate_action_result
    OutputChannel.send_response = _ad_law_checked(OutputChannel.send_response)
    from rasa.core.channels.socketio import SocketIOOutput
    SocketIOOutput.send_custom_json = _socketio_custom_json
    event.listen(Engine, "connect", _sqlite_tracker_pragmas)
    tracker_store.create_engine_kwargs = _tracker_engine_kwargs(tracker_store.create_engine_kwargs)
    tracker_store.FailSafeTrackerStore.on_tracker_store_error = _tracker_store_down
    tracker_store.FailSafeTrackerStore.on_tracker_store_retrieve_error = _tracker_store_down
    rasa.server.create_app = _decoded_conversation_ids(rasa.server.create_app)


def main() -> Any:
    from kefu.pii import install

    install()
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    return rasa_main()


if __name__ == "__main__":
    main()
