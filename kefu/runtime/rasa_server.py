"""Start `rasa` with three measured hot-path fixes and the ad-law check applied.

Rasa 3.6 checks every action-server reply with `jsonschema.validate(result,
schema)`. That call validates the *schema itself* against the metaschema
before validating the reply, on every action: about a third of Rasa's CPU
per message in bench/chat_load.py. Building the validator once per process
gives the same checks (same schema, same errors) without the repeated work.
The SQLite tracker store also gets WAL and a kept-open connection, and a
tracker-store failure fails the turn instead of falling back to an empty
in-memory conversation (below), as does a custom action the action server
did not answer. No single request can end the process
(`_session_scope_without_exit`, `_request_failure_contained`). Rasa's HTTP
API never starts without its token, and every route but the channels' needs
it; customer ids in its paths are percent-decoded, so every client names a
conversation by the id the channel stored. A turn waiting for its
conversation's lock keeps its ticket alive (kefu/runtime/ticket_lock.py).
Everything else is plain `rasa`.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

logger = logging.getLogger("kefu.rasa_server")


@lru_cache(maxsize=1)
def _action_result_validator():
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would each time
    return cls(schema)


def _validate_action_result(self, result: dict[str, Any]) -> bool:
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


def _create_tracker_passed_on(original):
    """Rasa wraps the tracker store twice (FailSafeTrackerStore around
    AwaitableTrackerStore); neither passes `create_tracker` on, so a new
    conversation was created by TrackerStore's own method: saved empty at
    once, through Rasa's full save with its count and event queries. The
    cached store creates it without a save (kefu.runtime.tracker_cache)."""
    from kefu.runtime.tracker_cache import CachedSQLTrackerStore

    async def create_tracker(self, sender_id, append_action_listen=True):
        inner = self._tracker_store
        store = inner
        while not isinstance(store, CachedSQLTrackerStore) and hasattr(store, "_tracker_store"):
            store = store._tracker_store
        if isinstance(store, CachedSQLTrackerStore):
            return await inner.create_tracker(sender_id, append_action_listen=append_action_listen)
        return await original(self, sender_id, append_action_listen=append_action_listen)

    return create_tracker


def _ad_law_checked(original):
    """Every bot text on every channel passes the advertising-law check.

    `OutputChannel.send_response` is where Rasa hands each bot message to a
    channel, its own socket.io channel included; the Kefu channels check
    again before sending, which changes nothing on an already clean text.
    """
    from kefu.text.ad_law import check_outgoing

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
            return response.json(
                {
                    "status": "failure",
                    "reason": "BadRequest",
                    "code": 400,
                    "message": "the conversation id in the path is not percent-encoded UTF-8",
                },
                status=400,
            )
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
    logger.error(
        "conversation store unreachable (%s): %s; the turn is refused",
        self._tracker_store.__class__.__name__,
        str(error).splitlines()[0][:300],
    )
    raise ConversationStoreUnavailable(str(error)) from error


def _session_scope_without_exit(self):
    """Rasa's SQL tracker store session, without its exit on any ValueError.

    Rasa's `session_scope` turns every ValueError raised while a session is
    open into `sys.exit(1)`, meaning the one `ensure_schema_exists` raises
    for a missing PostgreSQL schema. UnicodeEncodeError is a ValueError too:
    a sender id or text with a lone surrogate (`"\\udfff"`, valid JSON),
    bound by sqlite3 or psycopg2, ended the whole Rasa server, and `kefu run`
    with it. Only the schema check exits now; any other error stays the
    failure of the one turn (the channel answers "busy" or 400).
    """
    import rasa.shared.utils.cli
    from rasa.core.tracker_store import POSTGRESQL_SCHEMA, ensure_schema_exists

    session = self.sessionmaker()
    try:
        try:
            ensure_schema_exists(session)
        except ValueError as e:
            rasa.shared.utils.cli.print_error_and_exit(
                f"Requested PostgreSQL schema '{e}' was not found in the database. To "
                f"continue, create the schema or unset the '{POSTGRESQL_SCHEMA}' "
                "environment variable to use the default schema. Exiting application."
            )
        yield session
    finally:
        session.close()


def _request_failure_contained(original_init):
    """No request ends the Rasa process.

    Sanic turns an Exception in a handler into a 500, but SystemExit (a
    library's `sys.exit` on a path a request reaches, as above) escapes the
    connection task and stops the event loop: every customer loses the bot.
    Here it becomes a logged 500 for that request alone. KeyboardInterrupt
    and cancellation pass: they come from the operator and from Sanic.
    Wrapped per connection, not `Sanic.handle_request` itself: Sanic
    recompiles that method from its source at startup (TouchUp).
    """
    from sanic.exceptions import ServerError

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        handle = self.request_handler

        async def request_handler(request):
            try:
                return await handle(request)
            except SystemExit as exc:
                logger.error(
                    "a request to %s tried to end the server (SystemExit %s); answered 500",
                    ascii(request.path)[:200],
                    exc.code,
                )
                raise ServerError("internal error") from None

        self.request_handler = request_handler

    return __init__


# What a customer's browser or a platform reaches: the channel webhooks
# (each checks its own signature), socket.io, and Rasa's hello at `/`.
# Everything else is Rasa's HTTP API, which reads and rewrites any
# conversation and can unload the model.
_PUBLIC_PREFIXES = ("/webhooks/", "/socket.io")


def _is_public_path(path: str) -> bool:
    return path == "/" or path.startswith(_PUBLIC_PREFIXES)


def _api_token_guard(token: str):
    """A request middleware that refuses every non-channel route without
    `?token=`, so an API route Rasa left without `requires_auth` (`/version`)
    or adds later is closed too; compared in constant time."""
    import hmac

    from sanic import response

    expected = token.encode()

    async def guard(request):
        if _is_public_path(request.path):
            return None
        provided = request.args.get("token", "")
        if hmac.compare_digest(provided.encode("utf-8", "surrogatepass"), expected):
            return None
        return response.json(
            {
                "status": "failure",
                "reason": "NotAuthenticated",
                "message": "Rasa's HTTP API needs ?token= (KEFU_RASA_TOKEN)",
                "code": 401,
            },
            status=401,
        )

    return guard


def _api_requires_token(original):
    """Rasa's API never starts open: without --auth-token Rasa would serve
    every endpoint to anyone (`kefu run` always passes one)."""

    def create_app(*args, **kwargs):
        token = kwargs.get("auth_token")
        if not token:
            raise SystemExit("error: Rasa's HTTP API needs a token (KEFU_RASA_TOKEN / --auth-token)")
        app = original(*args, **kwargs)
        app.register_middleware(_api_token_guard(token), "request")
        return app

    return create_app


def _cors_for_channels_only(app, cors_origins="") -> None:
    """`--cors *` lets any web page read the answers of the routes it covers
    (sanic-cors reflects the origin and allows credentials). The widget on a
    shop's site needs it for socket.io and the webhooks, never for the API."""
    from sanic_cors import CORS

    app.config.CORS_AUTOMATIC_OPTIONS = True
    app.config.CORS_SUPPORTS_CREDENTIALS = True
    options = {"origins": cors_origins or ""}
    CORS(app, resources={r"/webhooks/.*": options, r"/socket\.io.*": options}, automatic_options=True)


def _typing_route(original):
    """`POST /conversations/{id}/typing` `{"typing": bool, "agent": name}`:
    the desk's signal that an agent is typing to a web-widget customer.

    Delivered by the socket.io channel to the customer's open sockets on this
    server (nginx routes the desk's call by the id, like its other calls), and
    never stored: a typing signal is no turn. An API route, so the token guard
    keeps it internal; the public socket.io side only ever receives it."""

    async def typing(request, conversation_id: str):
        from sanic import response

        body = request.json if request.body else None
        agent = body.get("agent") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("typing"), bool)
            or not (agent is None or (isinstance(agent, str) and len(agent) <= 64))
        ):
            return response.json({"status": "failure", "message": "body: {typing: bool, agent?: str}"}, status=400)
        channel = next((c for c in getattr(request.app.ctx, "input_channels", []) if hasattr(c, "send_typing")), None)
        sent = bool(channel) and await channel.send_typing(conversation_id, body["typing"], agent)
        return response.json({"sent": sent})

    def create_app(*args, **kwargs):
        app = original(*args, **kwargs)
        app.add_route(typing, "/conversations/<conversation_id:path>/typing", methods=["POST"], name="kefu_typing")
        return app

    return create_app


class ActionServerUnavailable(RuntimeError):
    """A custom action got no valid answer: the action server is down,
    restarting, died during the call, or failed (5xx)."""


# The custom-action failures of the action being run by this turn's task.
_action_failures: ContextVar[list[tuple[str, Exception]] | None] = ContextVar("kefu_action_failures", default=None)


def _remote_action_failures_recorded(original):
    async def run(self, output_channel, nlg, tracker, domain):
        from rasa.core.actions.action import ActionExecutionRejection

        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise  # a form's own refusal of a slot value: part of the dialogue
        except Exception as exc:
            failures = _action_failures.get()
            if failures is not None:
                failures.append((self.name(), exc))
            raise

    return run


def _action_failure_fails_the_turn(original):
    """Rasa logs a failed custom action, records it as executed with no
    events and goes on predicting: the customer gets `200 []`, and the
    stored failed actions make the policies predict nonsense (then nothing,
    once the circuit breaker trips) on that customer's later turns. Failing
    the turn instead leaves the conversation as it was before the message
    (nothing is saved; kefu/runtime/tracker_cache.py drops the changed copy), every
    channel answers its polite "busy" text, and the next message after the
    action server is back is handled normally."""

    async def _run_action(self, action, tracker, output_channel, nlg, prediction):
        failures: list[tuple[str, Exception]] = []
        reset = _action_failures.set(failures)
        try:
            result = await original(self, action, tracker, output_channel, nlg, prediction)
        finally:
            _action_failures.reset(reset)
        if failures:
            name, error = failures[0]
            logger.error(
                "action server failed on %s for %s (%s: %s); the turn is refused",
                name,
                tracker.sender_id,
                type(error).__name__,
                " ".join(str(error).split())[:200],
            )
            raise ActionServerUnavailable(f"{name}: {type(error).__name__}") from error
        return result

    return _run_action


def _action_sessions_closed(original):
    """The kept-alive sessions to the action server (kefu/runtime/action_calls.py)
    are closed when the server stops."""

    def create_app(*args, **kwargs):
        app = original(*args, **kwargs)

        async def close(_app, _loop):
            from kefu.runtime import action_calls

            await action_calls.close_sessions()

        app.register_listener(close, "after_server_stop")
        return app

    return create_app


def apply() -> None:
    import rasa.core.tracker_store as tracker_store
    import rasa.server
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import OutputChannel
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    rasa.server.create_app = _action_sessions_closed(
        _decoded_conversation_ids(_typing_route(_api_requires_token(rasa.server.create_app)))
    )
    rasa.server.configure_cors = _cors_for_channels_only
    RemoteAction._validate_action_result = _validate_action_result
    RemoteAction.run = _remote_action_failures_recorded(RemoteAction.run)
    from rasa.core.processor import MessageProcessor

    MessageProcessor._run_action = _action_failure_fails_the_turn(MessageProcessor._run_action)
    OutputChannel.send_response = _ad_law_checked(OutputChannel.send_response)
    from rasa.core.channels.socketio import SocketIOOutput

    SocketIOOutput.send_custom_json = _socketio_custom_json
    event.listen(Engine, "connect", _sqlite_tracker_pragmas)
    tracker_store.create_engine_kwargs = _tracker_engine_kwargs(tracker_store.create_engine_kwargs)
    for wrapper in (tracker_store.FailSafeTrackerStore, tracker_store.AwaitableTrackerStore):
        wrapper.create_tracker = _create_tracker_passed_on(wrapper.create_tracker)
    tracker_store.FailSafeTrackerStore.on_tracker_store_error = _tracker_store_down
    tracker_store.FailSafeTrackerStore.on_tracker_store_retrieve_error = _tracker_store_down
    contain_request_failures()
    from kefu.core.settings import load_rasa_concurrency
    from kefu.runtime import action_calls, admission, graph_order, ticket_lock

    ticket_lock.apply()
    action_calls.install()
    graph_order.install()
    admission.install(load_rasa_concurrency())


def contain_request_failures() -> None:
    """The two fixes that keep one request from ending the Rasa process."""
    import contextlib

    import rasa.core.tracker_store as tracker_store
    from sanic.server.protocols.http_protocol import HttpProtocol

    tracker_store.SQLTrackerStore.session_scope = contextlib.contextmanager(_session_scope_without_exit)
    HttpProtocol.__init__ = _request_failure_contained(HttpProtocol.__init__)


def main() -> Any:
    from kefu.text.pii import install

    install()
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv = with_live_model(sys.argv)
    sys.argv[0] = "rasa"
    return rasa_main()


def with_live_model(argv: list[str]) -> list[str]:
    """`--model` replaced by the model registry's live model: a Rasa server
    the supervisor restarts after a model went live (or was rolled back)
    loads that one, not the one it was first started with."""
    if "--model" not in argv:
        return argv
    from kefu.core.settings import load_model_settings
    from kefu.runtime.live_model import Wanted

    wanted = Wanted(load_model_settings())
    live = wanted()
    wanted.engine.dispose()
    if live is None or not live.is_file():
        return argv
    i = argv.index("--model") + 1
    return [*argv[:i], str(live), *argv[i + 1 :]]


if __name__ == "__main__":
    main()
