"""Every environment variable Kefu reads, with its default and its meaning,
and the settings each process reads from them once, at start.

`VARIABLES` is the one list of them (docs/configuration.md is generated from
it: `python -m kefu.core.settings`; tests/test_configuration.py checks both
agree). Nothing else of ours reads `os.environ`: a process calls a `load_…()`
below once and passes the frozen result to the code that needs it.

Some variables are read by Rasa, not by our code: it substitutes `${VAR}` in
bot/credentials.yml and bot/endpoints*.yml from its environment, which
`kefu run` / `kefu serve` (kefu.runtime.supervisor) fill with the defaults
given here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VAR = PROJECT_ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR / 'kefu.db'}"
IMPORTANT_CUSTOMERS_FILE = PROJECT_ROOT / "kefu" / "core" / "data" / "important_customers.yml"
EMERGENCIES_FILE = PROJECT_ROOT / "kefu" / "core" / "data" / "emergencies.yml"
REMINDER_POLICIES_FILE = PROJECT_ROOT / "kefu" / "reminders" / "data" / "reminder_policies.yml"


@dataclass(frozen=True)
class Variable:
    """One environment variable.

    default: the value used when the variable is unset (None: unset means
    "not configured", or the default is derived from other values, which
    `shown` then describes). read_by: the processes that read it.
    """

    name: str
    default: str | None
    meaning: str
    read_by: str
    shown: str = ""  # the default as the docs show it, when not the literal value

    @property
    def shown_default(self) -> str:
        if self.shown:
            return self.shown
        if self.default is None:
            return "unset"
        return "empty" if self.default == "" else f"`{self.default}`"


_ALL = "desk, action server, Rasa channels, reminder worker, CLI"
_RASA_YML = "Rasa (bot/endpoints*.yml)"
_CREDENTIALS = "Rasa (bot/credentials.yml)"
_SCALED_YML = "Rasa (bot/endpoints-scaled.yml)"
_SHARED_YML = "Rasa (bot/endpoints-shared.yml, bot/endpoints-scaled.yml)"

VARIABLES: tuple[Variable, ...] = (
    # -- the desk database, the desk -----------------------------------------------------
    Variable(
        "KEFU_DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "The desk database: tickets, conversations, agents, facts, reminders. PostgreSQL URLs work too",
        f"{_ALL}, kefu run",
        shown="`sqlite:///var/kefu.db`",
    ),
    Variable("KEFU_DESK_PORT", "8000", "The desk's port", "desk, kefu run"),
    Variable(
        "KEFU_PRESENCE_TIMEOUT",
        "60",
        "Seconds without an open desk page after which an agent counts as 离线 for routing",
        "desk, action server",
    ),
    Variable(
        "KEFU_WAIT_OFFER_AFTER",
        "300",
        "Seconds a customer waits in the queue before 留言 (a ticket instead of the wait) is offered again",
        "desk",
    ),
    Variable(
        "KEFU_WAIT_NOTICE_EVERY",
        "60",
        'Seconds between two messages of the waiting room to one customer (a new position, "消息已收到")',
        "desk",
    ),
    Variable(
        "KEFU_DESK_HOST",
        "0.0.0.0",
        "The desk's address: public by default; agents reach it through nginx in the scaled profile",
        "desk",
        shown="`0.0.0.0`; `127.0.0.1` in the scaled profile",
    ),
    Variable(
        "KEFU_RASA_URL",
        None,
        "The desk's (and the CLI's) way to Rasa's HTTP API",
        "desk, CLI",
        shown="`http://127.0.0.1:$KEFU_RASA_PORT`; nginx's internal port in the scaled profile",
    ),
    Variable(
        "KEFU_PUBLIC_RASA_URL",
        None,
        "Rasa's address as the chat widget in the browser reaches it; empty: the page's own origin",
        "desk",
        shown="`KEFU_RASA_URL`; empty in the scaled profile",
    ),
    Variable(
        "KEFU_TRUSTED_PROXIES",
        "",
        "Comma-separated addresses whose `X-Real-IP` the desk's login limit believes (a reverse proxy)",
        "desk",
        shown="empty; `127.0.0.1` in the scaled profile",
    ),
    Variable(
        "KEFU_DESK_SECURE_COOKIES",
        None,
        "`1`: the desk's session cookie is marked Secure (only where the desk is served over HTTPS)",
        "desk",
    ),
    Variable(
        "KEFU_BUSINESS",
        "shop,property,developer",
        "Which starter knowledge (知识库) a new installation begins with: `shop`, `property`, `developer` "
        "or a comma list; read once, when the knowledge base is first used",
        "desk, action server",
    ),
    Variable(
        "KEFU_IMPORTANT_CUSTOMERS",
        str(IMPORTANT_CUSTOMERS_FILE),
        "YAML list of important customers' ids (重点客户), served first in the waiting queue; re-read on every listing",
        "desk",
        shown="`kefu/core/data/important_customers.yml`",
    ),
    Variable(
        "KEFU_EMERGENCIES_FILE",
        str(EMERGENCIES_FILE),
        "YAML file of emergencies (电梯困人, 着火, 燃气泄漏 …): trigger words, safety advice, emergency numbers "
        "and the first reply's wording; read when Rasa and the action server start",
        "Rasa (NLU), action server",
        shown="`kefu/core/data/emergencies.yml`",
    ),
    # -- Rasa's HTTP API token -------------------------------------------------------------
    Variable(
        "KEFU_RASA_TOKEN",
        None,
        "The secret every call to Rasa's HTTP API must carry as `?token=`; only the channel webhooks, "
        "socket.io and `GET /` are public. `kefu serve rasa` / `kefu serve desk` refuse to start without it",
        "Rasa, desk, CLI, kefu run",
        shown="unset: `kefu run` makes a random one in `KEFU_RASA_TOKEN_FILE` and gives it to its children; "
        "the CLIs read that file",
    ),
    Variable(
        "KEFU_RASA_TOKEN_FILE",
        str(VAR / "rasa_token"),
        "Where `kefu run` keeps the Rasa API token it made (mode 0600, reused)",
        "desk, CLI, kefu run",
        shown="`var/rasa_token`",
    ),
    # -- processes and ports ---------------------------------------------------------------
    Variable("KEFU_RASA_PORT", "5005", "Rasa's port (channels, socket.io, HTTP API)", "kefu run, desk, CLI"),
    Variable(
        "KEFU_RASA_CONCURRENCY",
        "8",
        "Customer messages a Rasa server works on at once; more wait their turn in arrival order "
        "(a message busy for over a second, e.g. on a platform API, stops counting). 0: no limit",
        "Rasa",
    ),
    Variable("KEFU_ACTIONS_PORT", "5055", "The action server's port", "kefu run"),
    Variable(
        "KEFU_ACTION_ENDPOINT",
        None,
        "Where Rasa calls the action server",
        _RASA_YML,
        shown="set by `kefu run`: `http://127.0.0.1:$KEFU_ACTIONS_PORT/webhook`; "
        "nginx's internal port in the scaled profile",
    ),
    Variable(
        "KEFU_ACTIONS_HOST",
        "127.0.0.1",
        "The action server's address: loopback, reachable only from its machine. "
        "Another address needs `KEFU_ACTIONS_TOKEN`",
        "action server, kefu run",
    ),
    Variable(
        "KEFU_ACTIONS_TOKEN",
        "",
        "When set, every call to the action server but `/health` needs the header `X-Kefu-Actions-Token`, "
        "which Rasa sends. Required when `KEFU_ACTIONS_HOST` is not a loopback address",
        f"action server, {_RASA_YML}, kefu run",
        shown="empty (none needed on loopback)",
    ),
    Variable(
        "KEFU_MODEL",
        None,
        "The model a new installation starts with, when the model registry names no live model yet; "
        "after that the registry's live model is loaded (`kefu train`, `/learning`)",
        "kefu run, kefu serve",
        shown="unset: the newest in `KEFU_MODELS_DIR`",
    ),
    Variable(
        "KEFU_MODELS_DIR",
        str(PROJECT_ROOT / "models"),
        "Trained models; the model registry names its files, `kefu train` writes there",
        "kefu run, kefu serve, kefu train, desk",
        shown="`models/`",
    ),
    Variable(
        "KEFU_RASA_SERVER_URLS",
        None,
        "Every Rasa server (comma-separated URLs) that loads a model when one goes live or is rolled back",
        "desk, kefu train",
        shown="`KEFU_RASA_URL`; `kefu run --scaled` gives every Rasa server's",
    ),
    Variable(
        "KEFU_HELDOUT_FILES",
        str(PROJECT_ROOT / "tests" / "data" / "nlu_heldout.jsonl"),
        "The held-out NLU test files (comma-separated JSONL of `{text, intent}`) the retraining gate scores",
        "kefu train",
        shown="`tests/data/nlu_heldout.jsonl`",
    ),
    Variable(
        "KEFU_TRAIN_DATA",
        str(PROJECT_ROOT / "data"),
        "The training data `kefu train` starts from (labelled 待学习 examples are added to it)",
        "kefu train",
        shown="`data/`",
    ),
    Variable(
        "KEFU_MODEL_CHECK_SECONDS",
        "15",
        "How often `kefu run` asks each Rasa server whether it still has a model, and the live one",
        "kefu run",
    ),
    Variable(
        "KEFU_CRASH_LOOP_WINDOW_SECONDS",
        "120",
        "A service dying 3 times within this many seconds stops `kefu run`",
        "kefu run",
    ),
    Variable(
        "KEFU_PID_FILE",
        str(VAR / "kefu.pids"),
        "Where `kefu run` writes its children's process ids (read by bench/chat_load.py)",
        "kefu run",
        shown="`var/kefu.pids`",
    ),
    Variable(
        "KEFU_MEDIA_DIR",
        str(VAR / "media"),
        "Where the photos, voice and video customers send are kept (0700 directories, 0600 files); "
        "on the scaled profile a directory every server shares (a shared volume)",
        "desk, Rasa channels, CLI",
        shown="`var/media`",
    ),
    Variable(
        "KEFU_MEDIA_URL_HOSTS",
        "*.alicdn.com,*.taobaocdn.com,*.tbcdn.cn",
        "Comma-separated hosts (`*.` for any subdomain) Taobao/Tmall picture URLs (`pic_url`) are downloaded "
        "from; a picture elsewhere is kept as a reference only, so the server is nobody's proxy",
        "Rasa channels",
    ),
    Variable(
        "KEFU_REMINDER_WORKERS",
        "1",
        "Reminder workers started by `kefu run` (more only on PostgreSQL; 0 starts none)",
        "kefu run",
    ),
    # -- Rasa's conversation store and lock store ----------------------------------------
    Variable(
        "KEFU_TRACKER_DIALECT",
        "sqlite",
        "Rasa's SQL tracker store: its SQLAlchemy dialect",
        f"{_RASA_YML}, CLI",
        shown="`sqlite`; from `KEFU_TRACKER_URL` when set",
    ),
    Variable(
        "KEFU_TRACKER_DB",
        str(VAR / "rasa_tracker.db"),
        "Rasa's SQL tracker store: the SQLite file, or the database name",
        f"{_RASA_YML}, CLI",
        shown="`var/rasa_tracker.db`; from `KEFU_TRACKER_URL` when set",
    ),
    Variable(
        "KEFU_EVENTS_DB",
        None,
        "The SQLite file of Rasa's event broker: every conversation's events, in order, which the desk "
        "follows (its waiting room answers customers in the queue from it)",
        f"{_RASA_YML}, desk",
        shown="`rasa_events.db` beside `KEFU_TRACKER_DB`, or `var/rasa_events.db`",
    ),
    Variable(
        "KEFU_TRACKER_URL",
        None,
        "With `KEFU_REDIS_URL`: Rasa keeps conversations in this PostgreSQL database and uses the Redis "
        "lock store (bot/endpoints-shared.yml), the building block of the scaled profile",
        "kefu run, CLI",
    ),
    Variable("KEFU_REDIS_URL", None, "Rasa's Redis lock store, with `KEFU_TRACKER_URL`", "kefu run"),
    Variable("KEFU_REDIS_PREFIX", "kefu", "Key prefix of Rasa's Redis lock store", f"kefu run, {_SHARED_YML}"),
    Variable(
        "KEFU_AMQP_URL",
        None,
        "With the shared stores: Rasa's events go to RabbitMQ (Rasa's Pika event broker, "
        "bot/endpoints-scaled.yml) and the desk consumes them from there instead of from `KEFU_EVENTS_DB`",
        "kefu run, desk",
        shown="unset; `make run-scaled`: `amqp://guest:guest@127.0.0.1:5672/`",
    ),
    Variable(
        "KEFU_AMQP_QUEUE",
        "kefu_desk",
        "The durable RabbitMQ queue Rasa publishes every event to and the desk consumes",
        f"kefu run, desk, {_SCALED_YML}",
    ),
    Variable(
        "KEFU_AMQP_EXCHANGE",
        "rasa-exchange",
        "The RabbitMQ fanout exchange Rasa publishes to (Rasa's default)",
        f"kefu run, desk, {_SCALED_YML}",
    ),
    Variable(
        "KEFU_AMQP_HOST",
        None,
        "The event broker's host",
        _SCALED_YML,
        shown="set by `kefu run` from `KEFU_AMQP_URL`",
    ),
    Variable(
        "KEFU_AMQP_PORT",
        None,
        "The event broker's port",
        _SCALED_YML,
        shown="set by `kefu run` from `KEFU_AMQP_URL`",
    ),
    Variable(
        "KEFU_AMQP_USER",
        None,
        "The event broker's user",
        _SCALED_YML,
        shown="set by `kefu run` from `KEFU_AMQP_URL`",
    ),
    Variable(
        "KEFU_AMQP_PASSWORD",
        None,
        "The event broker's password",
        _SCALED_YML,
        shown="set by `kefu run` from `KEFU_AMQP_URL`",
    ),
    Variable(
        "KEFU_TRACKER_HOST",
        None,
        "The tracker store's host",
        _SHARED_YML,
        shown="set by `kefu run` from `KEFU_TRACKER_URL`",
    ),
    Variable(
        "KEFU_TRACKER_PORT",
        None,
        "The tracker store's port",
        _SHARED_YML,
        shown="set by `kefu run` from `KEFU_TRACKER_URL`",
    ),
    Variable(
        "KEFU_TRACKER_USER",
        None,
        "The tracker store's user",
        _SHARED_YML,
        shown="set by `kefu run` from `KEFU_TRACKER_URL`",
    ),
    Variable(
        "KEFU_TRACKER_PASSWORD",
        None,
        "The tracker store's password",
        _SHARED_YML,
        shown="set by `kefu run` from `KEFU_TRACKER_URL`",
    ),
    Variable(
        "KEFU_REDIS_HOST", None, "The lock store's host", _SHARED_YML, shown="set by `kefu run` from `KEFU_REDIS_URL`"
    ),
    Variable(
        "KEFU_REDIS_PORT", None, "The lock store's port", _SHARED_YML, shown="set by `kefu run` from `KEFU_REDIS_URL`"
    ),
    Variable(
        "KEFU_REDIS_DB",
        None,
        "The lock store's database number",
        _SHARED_YML,
        shown="set by `kefu run` from `KEFU_REDIS_URL`",
    ),
    # -- the scaled profile (`kefu run --scaled`) -------------------------------------------
    Variable("KEFU_PUBLIC_HOST", "0.0.0.0", "Scaled profile: nginx's public address", "kefu run --scaled"),
    Variable("KEFU_PUBLIC_PORT", "8080", "Scaled profile: nginx's public port", "kefu run --scaled"),
    Variable(
        "KEFU_INTERNAL_PORT",
        "8079",
        "Scaled profile: nginx's loopback port, through which Rasa reaches the action servers and the "
        "desk reaches Rasa",
        "kefu run --scaled",
    ),
    Variable(
        "KEFU_RASA_SERVERS",
        "2",
        "Scaled profile: Rasa servers, on consecutive ports from `KEFU_RASA_PORT`",
        "kefu run --scaled",
    ),
    Variable(
        "KEFU_ACTION_SERVERS",
        "2",
        "Scaled profile: action servers, on consecutive ports from `KEFU_ACTIONS_PORT`",
        "kefu run --scaled",
    ),
    Variable(
        "KEFU_RASA_PORTS",
        None,
        "Scaled profile: comma-separated Rasa ports, instead of `KEFU_RASA_SERVERS`",
        "kefu run --scaled",
    ),
    Variable(
        "KEFU_ACTIONS_PORTS",
        None,
        "Scaled profile: comma-separated action server ports, instead of `KEFU_ACTION_SERVERS`",
        "kefu run --scaled",
    ),
    Variable(
        "KEFU_NGINX_DIR",
        str(VAR / "nginx"),
        "Scaled profile: nginx's config, pid, logs, buffers",
        "kefu run --scaled",
        shown="`var/nginx`",
    ),
    # -- reminders -------------------------------------------------------------------------
    Variable(
        "KEFU_REMINDER_POLICIES",
        str(REMINDER_POLICIES_FILE),
        "The reminder policies (timing, texts, quiet hours per shop and bill kind)",
        "reminder worker, CLI",
        shown="`kefu/reminders/data/reminder_policies.yml`",
    ),
    Variable("KEFU_REMINDER_BATCH", "500", "Reminders a worker claims at once", "reminder worker"),
    Variable("KEFU_REMINDER_CONCURRENCY", "64", "Reminders a worker sends at the same time", "reminder worker"),
    Variable(
        "KEFU_REMINDER_LEASE_SECONDS",
        "120",
        "How long a claimed batch belongs to its worker before another may take it over",
        "reminder worker",
    ),
    Variable("KEFU_REMINDER_INTERVAL_SECONDS", "5", "A worker's pause between rounds when idle", "reminder worker"),
    Variable("KEFU_REMINDER_PLAN_SECONDS", "30", "Seconds between planning passes", "reminder worker"),
    Variable(
        "KEFU_REMINDER_STOP_SECONDS", "4", "After SIGTERM, how long a worker may finish its batch", "reminder worker"
    ),
    Variable(
        "KEFU_TMC_PULL",
        "1",
        "`0`: the worker does not pull trade events from TMC (otherwise it does when Taobao is configured)",
        "reminder worker",
    ),
    Variable("TAOBAO_TMC_GROUP", "default", "The TMC group trade events are pulled from", "reminder worker"),
    Variable(
        "KEFU_SMS_URL",
        "",
        "The SMS gateway reminders are POSTed to as JSON `{phone, text}` (4xx: not sent; 5xx or no answer: uncertain)",
        "reminder worker",
    ),
    Variable(
        "WECOM_OPEN_KFID", "", "The WeCom 客服 account reminders are sent from (`kf/send_msg`)", "reminder worker"
    ),
    # -- channels (Rasa reads bot/credentials.yml; the reminder worker calls the same platforms) ---
    Variable(
        "KEFU_REST_TOKEN",
        "",
        "When set, the REST channel (`/webhooks/rest/webhook`) needs `Authorization: Bearer <token>`. "
        "Set it whenever Rasa's port is reachable from outside and the channel serves your own systems only",
        _CREDENTIALS,
    ),
    Variable(
        "WECHAT_TOKEN", "", "WeChat official account: the signature token; empty: the channel answers 503", _CREDENTIALS
    ),
    Variable("WECHAT_APPID", "", "WeChat official account: AppID", f"{_CREDENTIALS}, reminder worker"),
    Variable("WECHAT_APPSECRET", "", "WeChat official account: AppSecret", f"{_CREDENTIALS}, reminder worker"),
    Variable("WECHAT_ENCODING_AES_KEY", "", "WeChat official account: EncodingAESKey (encrypted mode)", _CREDENTIALS),
    Variable(
        "WECHAT_API_BASE", "https://api.weixin.qq.com", "WeChat's API address", f"{_CREDENTIALS}, reminder worker"
    ),
    Variable(
        "WECHAT_REPLY_BUDGET_SECONDS",
        "4",
        "How long the WeChat channel waits for an answer to reply in place before sending it as a 客服消息",
        _CREDENTIALS,
    ),
    Variable(
        "WECHAT_TIMESTAMP_TOLERANCE_SECONDS",
        "300",
        "WeChat messages older than this are refused (0: no age check, for replaying recorded messages)",
        _CREDENTIALS,
    ),
    Variable(
        "WECOM_CORPID",
        "",
        "WeCom 微信客服: corp id; empty: the channel answers 503",
        f"{_CREDENTIALS}, reminder worker",
    ),
    Variable("WECOM_SECRET", "", "WeCom 微信客服: secret", f"{_CREDENTIALS}, reminder worker"),
    Variable("WECOM_TOKEN", "", "WeCom 微信客服: callback token", _CREDENTIALS),
    Variable("WECOM_ENCODING_AES_KEY", "", "WeCom 微信客服: callback EncodingAESKey", _CREDENTIALS),
    Variable(
        "WECOM_API_BASE", "https://qyapi.weixin.qq.com", "WeCom's API address", f"{_CREDENTIALS}, reminder worker"
    ),
    Variable(
        "TAOBAO_APP_KEY",
        "",
        "Taobao Open Platform app key; empty: the taobao/tmall channels answer 503",
        f"{_CREDENTIALS}, reminder worker",
    ),
    Variable("TAOBAO_APP_SECRET", "", "Taobao Open Platform app secret", f"{_CREDENTIALS}, reminder worker"),
    Variable("TAOBAO_SESSION", "", "The seller's TOP session key", f"{_CREDENTIALS}, reminder worker"),
    Variable(
        "TAOBAO_API_BASE", "https://eco.taobao.com/router/rest", "The TOP gateway", f"{_CREDENTIALS}, reminder worker"
    ),
    Variable(
        "TAOBAO_SIGN_METHOD",
        "md5",
        "TOP signature method (`md5` or `hmac`, `hmac-sha256`)",
        f"{_CREDENTIALS}, reminder worker",
    ),
    Variable(
        "TAOBAO_CHAT_METHOD",
        "taobao.message.chatrobot.async",
        "The TOP method that sends chat replies",
        f"{_CREDENTIALS}, reminder worker",
    ),
    # -- libraries ---------------------------------------------------------------------------
    Variable(
        "RASA_TELEMETRY_ENABLED",
        "false",
        "Rasa's telemetry; `kefu` and `kefu run` set it to false unless it is set",
        "Rasa",
    ),
    Variable(
        "TF_CPP_MIN_LOG_LEVEL",
        "2",
        "TensorFlow's log level; `kefu` and `kefu run` set it to 2 unless it is set",
        "TensorFlow (Rasa)",
    ),
    Variable(
        "SANIC_HOST",
        None,
        "rasa-sdk's listening address: the action server sets it from `KEFU_ACTIONS_HOST` "
        "(a value of your own is replaced)",
        "rasa-sdk (action server)",
        shown="`KEFU_ACTIONS_HOST`",
    ),
    Variable(
        "PYTHONPATH",
        None,
        "`kefu run` puts the project directory first for its children (custom NLU components and "
        "channels are imported by module path)",
        "Python (kefu run's children)",
    ),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}

# The variables bot/credentials.yml names: Rasa refuses unset ones there, so
# `kefu run` gives each its default.
CREDENTIALS_VARIABLES: tuple[str, ...] = (
    "KEFU_REST_TOKEN",
    "WECHAT_TOKEN",
    "WECHAT_APPID",
    "WECHAT_APPSECRET",
    "WECHAT_ENCODING_AES_KEY",
    "WECHAT_API_BASE",
    "WECHAT_REPLY_BUDGET_SECONDS",
    "WECHAT_TIMESTAMP_TOLERANCE_SECONDS",
    "WECOM_CORPID",
    "WECOM_SECRET",
    "WECOM_TOKEN",
    "WECOM_ENCODING_AES_KEY",
    "WECOM_API_BASE",
    "TAOBAO_APP_KEY",
    "TAOBAO_APP_SECRET",
    "TAOBAO_SESSION",
    "TAOBAO_API_BASE",
    "TAOBAO_SIGN_METHOD",
    "TAOBAO_CHAT_METHOD",
)


def default_optional(name: str) -> str | None:
    """The declared default of a variable (KeyError for one not declared)."""
    return BY_NAME[name].default


def default(name: str) -> str:
    """The declared default of a variable that has one."""
    value = BY_NAME[name].default
    if value is None:
        raise KeyError(f"{name} has no default")
    return value


def _get_optional(env: Mapping[str, str], name: str) -> str | None:
    """Unset: the default; set, even to "": the value."""
    return env.get(name, default_optional(name))


def _get(env: Mapping[str, str], name: str) -> str:
    """As _get_optional, for a variable with a default."""
    return env.get(name, default(name))


def _get_or_default_optional(env: Mapping[str, str], name: str) -> str | None:
    """Unset or empty: the default."""
    return env.get(name) or default_optional(name)


def _get_or_default(env: Mapping[str, str], name: str) -> str:
    """As _get_or_default_optional, for a variable with a default."""
    return env.get(name) or default(name)


def environment() -> dict[str, str]:
    """A copy of this process's whole environment (PATH and all), for the
    processes `kefu run` starts: they inherit it, plus the defaults above."""
    return dict(os.environ)


def set_library_defaults(env: MutableMapping[str, str] = os.environ) -> None:
    """TensorFlow's and Rasa's own variables, for the libraries this process
    loads (they read them from the process environment)."""
    for name in ("TF_CPP_MIN_LOG_LEVEL", "RASA_TELEMETRY_ENABLED"):
        env.setdefault(name, default(name) or "")


def set_sanic_host(host: str, env: MutableMapping[str, str] = os.environ) -> None:
    """rasa_sdk.endpoint.run reads its address from SANIC_HOST."""
    env["SANIC_HOST"] = host


# -- the desk (and whoever reaches Rasa's HTTP API or the desk database) ------------------
@dataclass(frozen=True)
class Settings:
    database_url: str
    rasa_url: str
    desk_port: int
    # Public in the embedded profile; behind the scaled profile's nginx,
    # loopback (agents reach the desk through nginx).
    desk_host: str = "0.0.0.0"
    rasa_token: str | None = None
    token_ttl_hours: int = 12
    # Reverse proxies whose X-Real-IP names the client (the scaled profile's
    # nginx); from anyone else the header is ignored, so it cannot be forged.
    trusted_proxies: frozenset[str] = frozenset()
    # Rasa as the widget in the browser reaches it; None: the page's origin.
    public_rasa_url: str | None = None
    # The session cookie is Secure only where the desk is served over HTTPS.
    secure_cookies: bool = False
    important_customers_file: Path = IMPORTANT_CUSTOMERS_FILE
    media_dir: Path = VAR / "media"  # KEFU_MEDIA_DIR: photos and files customers send
    businesses: tuple[str, ...] = ("shop", "property", "developer")  # KEFU_BUSINESS
    models_dir: Path = PROJECT_ROOT / "models"  # KEFU_MODELS_DIR
    rasa_server_urls: tuple[str, ...] = ()  # KEFU_RASA_SERVER_URLS: every server a live model is loaded into
    presence_timeout: float = 60.0  # KEFU_PRESENCE_TIMEOUT
    events_db: Path = VAR / "rasa_events.db"  # KEFU_EVENTS_DB: Rasa's event broker, which the desk follows
    amqp_url: str | None = None  # KEFU_AMQP_URL: follow Rasa's events on RabbitMQ, not in events_db
    amqp_queue: str = "kefu_desk"  # KEFU_AMQP_QUEUE
    amqp_exchange: str = "rasa-exchange"  # KEFU_AMQP_EXCHANGE
    wait_offer_after: float = 300.0  # KEFU_WAIT_OFFER_AFTER
    wait_notice_every: float = 60.0  # KEFU_WAIT_NOTICE_EVERY


DeskSettings = Settings


def rasa_token_file(env: Mapping[str, str] = os.environ) -> Path:
    """Where `kefu run` keeps the Rasa API token it made (KEFU_RASA_TOKEN_FILE
    moves it, for tests that must not touch the project's var/)."""
    return Path(_get_or_default(env, "KEFU_RASA_TOKEN_FILE"))


def rasa_token(env: Mapping[str, str] = os.environ) -> str | None:
    """KEFU_RASA_TOKEN, else the token `kefu run` wrote, else None (then Rasa's
    API answers this process 401, which names the problem)."""
    token = env.get("KEFU_RASA_TOKEN")
    if token:
        return token
    try:
        return rasa_token_file(env).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def presence_timeout(env: Mapping[str, str] = os.environ) -> float:
    return float(_get(env, "KEFU_PRESENCE_TIMEOUT"))


def events_db(env: Mapping[str, str] = os.environ) -> Path:
    """KEFU_EVENTS_DB; else beside the SQLite tracker store; else in var/."""
    if env.get("KEFU_EVENTS_DB"):
        return Path(env["KEFU_EVENTS_DB"])
    if _get(env, "KEFU_TRACKER_DIALECT") == "sqlite" and not env.get("KEFU_TRACKER_URL"):
        return Path(_get_or_default(env, "KEFU_TRACKER_DB")).with_name("rasa_events.db")
    return VAR / "rasa_events.db"


def important_customers_file(env: Mapping[str, str] = os.environ) -> Path:
    return Path(_get_or_default(env, "KEFU_IMPORTANT_CUSTOMERS"))


def emergencies_file(env: Mapping[str, str] = os.environ) -> Path:
    return Path(_get_or_default(env, "KEFU_EMERGENCIES_FILE"))


BUSINESSES = ("shop", "property", "developer")


def businesses(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """KEFU_BUSINESS as a tuple; an unknown name stops the process with a clear message."""
    named = tuple(dict.fromkeys(b.strip() for b in _get_or_default(env, "KEFU_BUSINESS").split(",") if b.strip()))
    unknown = [b for b in named if b not in BUSINESSES]
    if unknown or not named:
        raise SystemExit(f"KEFU_BUSINESS must name one or more of {', '.join(BUSINESSES)} (got {unknown or 'nothing'})")
    return named


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    rasa_port = int(_get(env, "KEFU_RASA_PORT"))
    rasa_url = env.get("KEFU_RASA_URL") or f"http://127.0.0.1:{rasa_port}"
    models = load_model_settings(env)
    return Settings(
        database_url=_get_or_default(env, "KEFU_DATABASE_URL"),
        rasa_url=rasa_url,
        desk_port=int(_get(env, "KEFU_DESK_PORT")),
        desk_host=_get_or_default(env, "KEFU_DESK_HOST"),
        rasa_token=rasa_token(env),
        trusted_proxies=frozenset(a.strip() for a in _get(env, "KEFU_TRUSTED_PROXIES").split(",") if a.strip()),
        # Set but empty (the scaled profile): the widget uses the page's origin.
        public_rasa_url=env.get("KEFU_PUBLIC_RASA_URL", rasa_url) or None,
        secure_cookies=env.get("KEFU_DESK_SECURE_COOKIES") == "1",
        important_customers_file=important_customers_file(env),
        presence_timeout=presence_timeout(env),
        events_db=events_db(env),
        # Rasa publishes to RabbitMQ only with the shared stores (bot/endpoints-scaled.yml).
        amqp_url=(env.get("KEFU_AMQP_URL") or None)
        if env.get("KEFU_TRACKER_URL") and env.get("KEFU_REDIS_URL")
        else None,
        amqp_queue=_get(env, "KEFU_AMQP_QUEUE"),
        amqp_exchange=_get(env, "KEFU_AMQP_EXCHANGE"),
        wait_offer_after=float(_get(env, "KEFU_WAIT_OFFER_AFTER")),
        wait_notice_every=float(_get(env, "KEFU_WAIT_NOTICE_EVERY")),
        media_dir=load_media_settings(env).directory,
        businesses=businesses(env),
        models_dir=models.models_dir,
        rasa_server_urls=models.rasa_server_urls,
    )


load_desk_settings = load_settings


# -- media (photos and files customers send) -----------------------------------------------
@dataclass(frozen=True)
class MediaSettings:
    directory: Path
    url_hosts: tuple[str, ...]


def load_media_settings(env: Mapping[str, str] = os.environ) -> MediaSettings:
    return MediaSettings(
        directory=Path(_get_or_default(env, "KEFU_MEDIA_DIR")),
        url_hosts=tuple(h.strip().lower() for h in _get(env, "KEFU_MEDIA_URL_HOSTS").split(",") if h.strip()),
    )


# -- Rasa's tracker store, as the CLI reaches it ------------------------------------------
@dataclass(frozen=True)
class TrackerSettings:
    url: str | None  # KEFU_TRACKER_URL (PostgreSQL), shared with the Redis lock store
    dialect: str
    db: str
    redis_url: str | None
    redis_prefix: str
    amqp_url: str | None = None  # KEFU_AMQP_URL: Rasa's events through RabbitMQ
    amqp_queue: str = "kefu_desk"
    amqp_exchange: str = "rasa-exchange"

    @property
    def shared(self) -> bool:
        """Both shared stores set: Rasa runs on bot/endpoints-shared.yml
        (bot/endpoints-scaled.yml with RabbitMQ too)."""
        return bool(self.url and self.redis_url)


def load_tracker_settings(env: Mapping[str, str] = os.environ) -> TrackerSettings:
    return TrackerSettings(
        url=env.get("KEFU_TRACKER_URL") or None,
        dialect=_get(env, "KEFU_TRACKER_DIALECT"),
        db=_get_or_default(env, "KEFU_TRACKER_DB"),
        redis_url=env.get("KEFU_REDIS_URL") or None,
        redis_prefix=_get(env, "KEFU_REDIS_PREFIX"),
        amqp_url=env.get("KEFU_AMQP_URL") or None,
        amqp_queue=_get(env, "KEFU_AMQP_QUEUE"),
        amqp_exchange=_get(env, "KEFU_AMQP_EXCHANGE"),
    )


# -- the action server ------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionServerSettings:
    host: str
    token: str | None


def load_action_server_settings(env: Mapping[str, str] = os.environ) -> ActionServerSettings:
    return ActionServerSettings(
        host=_get_or_default(env, "KEFU_ACTIONS_HOST"), token=env.get("KEFU_ACTIONS_TOKEN") or None
    )


# -- the platforms (channels in Rasa; the reminder worker's senders) ------------------------
@dataclass(frozen=True)
class WeChatSettings:
    token: str
    appid: str
    appsecret: str
    encoding_aes_key: str
    api_base: str

    @property
    def configured(self) -> bool:
        return bool(self.appid and self.appsecret)


@dataclass(frozen=True)
class WeComSettings:
    corpid: str
    secret: str
    token: str
    encoding_aes_key: str
    api_base: str
    open_kfid: str

    @property
    def configured(self) -> bool:
        return bool(self.corpid and self.secret)


@dataclass(frozen=True)
class TaobaoSettings:
    app_key: str
    app_secret: str
    session: str
    api_base: str
    sign_method: str
    chat_method: str
    tmc_group: str


@dataclass(frozen=True)
class ChannelSettings:
    wechat: WeChatSettings
    wecom: WeComSettings
    taobao: TaobaoSettings
    rest_token: str = ""
    sms_url: str = ""


def load_channel_settings(env: Mapping[str, str] = os.environ) -> ChannelSettings:
    return ChannelSettings(
        wechat=WeChatSettings(
            token=_get(env, "WECHAT_TOKEN"),
            appid=_get(env, "WECHAT_APPID"),
            appsecret=_get(env, "WECHAT_APPSECRET"),
            encoding_aes_key=_get(env, "WECHAT_ENCODING_AES_KEY"),
            api_base=_get_or_default(env, "WECHAT_API_BASE"),
        ),
        wecom=WeComSettings(
            corpid=_get(env, "WECOM_CORPID"),
            secret=_get(env, "WECOM_SECRET"),
            token=_get(env, "WECOM_TOKEN"),
            encoding_aes_key=_get(env, "WECOM_ENCODING_AES_KEY"),
            api_base=_get_or_default(env, "WECOM_API_BASE"),
            open_kfid=_get(env, "WECOM_OPEN_KFID"),
        ),
        taobao=TaobaoSettings(
            app_key=_get(env, "TAOBAO_APP_KEY"),
            app_secret=_get(env, "TAOBAO_APP_SECRET"),
            session=_get(env, "TAOBAO_SESSION"),
            api_base=_get_or_default(env, "TAOBAO_API_BASE"),
            sign_method=_get_or_default(env, "TAOBAO_SIGN_METHOD"),
            chat_method=_get_or_default(env, "TAOBAO_CHAT_METHOD"),
            tmc_group=_get(env, "TAOBAO_TMC_GROUP"),
        ),
        rest_token=_get(env, "KEFU_REST_TOKEN"),
        sms_url=_get(env, "KEFU_SMS_URL"),
    )


# -- the reminder worker -----------------------------------------------------------------------
@dataclass(frozen=True)
class ReminderSettings:
    policies_file: Path = REMINDER_POLICIES_FILE
    batch: int = int(default("KEFU_REMINDER_BATCH"))
    concurrency: int = int(default("KEFU_REMINDER_CONCURRENCY"))
    lease_seconds: float = float(default("KEFU_REMINDER_LEASE_SECONDS"))
    interval_seconds: float = float(default("KEFU_REMINDER_INTERVAL_SECONDS"))
    plan_seconds: float = float(default("KEFU_REMINDER_PLAN_SECONDS"))
    stop_seconds: float = float(default("KEFU_REMINDER_STOP_SECONDS"))
    tmc_pull: bool = True


def reminder_policies_file(env: Mapping[str, str] = os.environ) -> Path:
    return Path(_get_or_default(env, "KEFU_REMINDER_POLICIES"))


def load_reminder_settings(env: Mapping[str, str] = os.environ) -> ReminderSettings:
    return ReminderSettings(
        policies_file=reminder_policies_file(env),
        batch=int(_get(env, "KEFU_REMINDER_BATCH")),
        concurrency=int(_get(env, "KEFU_REMINDER_CONCURRENCY")),
        lease_seconds=float(_get(env, "KEFU_REMINDER_LEASE_SECONDS")),
        interval_seconds=float(_get(env, "KEFU_REMINDER_INTERVAL_SECONDS")),
        plan_seconds=float(_get(env, "KEFU_REMINDER_PLAN_SECONDS")),
        stop_seconds=float(_get(env, "KEFU_REMINDER_STOP_SECONDS")),
        tmc_pull=_get(env, "KEFU_TMC_PULL") != "0",
    )


# -- `kefu run` / `kefu serve` (kefu.runtime.supervisor) --------------------------------------
@dataclass(frozen=True)
class Ports:
    rasa: int
    actions: int
    desk: int


@dataclass(frozen=True)
class ScaledSettings:
    """`kefu run --scaled`: nginx in front of several Rasa and action servers."""

    public_host: str
    public_port: int
    internal_port: int
    rasa_ports: tuple[int, ...]
    action_ports: tuple[int, ...]


@dataclass(frozen=True)
class SupervisorSettings:
    ports: Ports
    scaled: ScaledSettings
    reminder_workers: int
    model_check_seconds: float
    crash_loop_window_seconds: float
    pid_file: Path
    nginx_dir: Path
    tracker: TrackerSettings
    rasa_token: str | None  # the variable only; `kefu run` makes one when unset


# What the scaled profile gives its children instead of the defaults above,
# for the variables left unset.
SCALED_DEFAULTS: dict[str, str] = {
    "KEFU_PUBLIC_RASA_URL": "",  # the widget uses the page's origin (nginx)
    "KEFU_TRUSTED_PROXIES": "127.0.0.1",  # nginx's X-Real-IP, for the login limit
    "KEFU_DESK_HOST": "127.0.0.1",  # agents come through nginx
}


def load_ports(env: Mapping[str, str] = os.environ) -> Ports:
    return Ports(
        rasa=int(_get(env, "KEFU_RASA_PORT")),
        actions=int(_get(env, "KEFU_ACTIONS_PORT")),
        desk=int(_get(env, "KEFU_DESK_PORT")),
    )


def _port_list(env: Mapping[str, str], name: str, first: int, count_name: str) -> tuple[int, ...]:
    """The ports named in `name`, else `count_name`'s number of consecutive ports from first."""
    if env.get(name):
        return tuple(int(p) for p in env[name].split(",") if p.strip())
    return tuple(first + i for i in range(int(_get(env, count_name))))


def load_scaled_settings(env: Mapping[str, str] = os.environ) -> ScaledSettings:
    ports = load_ports(env)
    return ScaledSettings(
        public_host=_get(env, "KEFU_PUBLIC_HOST"),
        public_port=int(_get(env, "KEFU_PUBLIC_PORT")),
        internal_port=int(_get(env, "KEFU_INTERNAL_PORT")),
        rasa_ports=_port_list(env, "KEFU_RASA_PORTS", ports.rasa, "KEFU_RASA_SERVERS"),
        action_ports=_port_list(env, "KEFU_ACTIONS_PORTS", ports.actions, "KEFU_ACTION_SERVERS"),
    )


def load_supervisor_settings(env: Mapping[str, str] = os.environ, scaled: bool = False) -> SupervisorSettings:
    """scaled: also read the scaled profile's variables (they are only
    parsed when it is asked for, as before)."""
    return SupervisorSettings(
        ports=load_ports(env),
        scaled=load_scaled_settings(env) if scaled else ScaledSettings("", 0, 0, (), ()),
        reminder_workers=int(_get(env, "KEFU_REMINDER_WORKERS")),
        model_check_seconds=float(_get_or_default(env, "KEFU_MODEL_CHECK_SECONDS")),
        crash_loop_window_seconds=float(_get_or_default(env, "KEFU_CRASH_LOOP_WINDOW_SECONDS")),
        pid_file=Path(_get_or_default(env, "KEFU_PID_FILE")),
        nginx_dir=Path(_get_or_default(env, "KEFU_NGINX_DIR")),
        tracker=load_tracker_settings(env),
        rasa_token=env.get("KEFU_RASA_TOKEN") or None,
    )


# -- the Rasa server ------------------------------------------------------------------------
def load_rasa_concurrency(env: Mapping[str, str] = os.environ) -> int:
    value = _get_or_default(env, "KEFU_RASA_CONCURRENCY")
    try:
        limit = int(value)
    except ValueError:
        raise SystemExit(f"error: KEFU_RASA_CONCURRENCY must be a whole number, not {value!r}") from None
    if limit < 0:
        raise SystemExit(f"error: KEFU_RASA_CONCURRENCY must be 0 (no limit) or more, not {limit}")
    return limit


# -- the model registry and retraining ----------------------------------------------------
@dataclass(frozen=True)
class ModelSettings:
    database_url: str
    models_dir: Path
    rasa_server_urls: tuple[str, ...]
    rasa_token: str | None
    heldout_files: tuple[Path, ...]
    train_data: Path
    first_model: Path | None  # KEFU_MODEL


def load_model_settings(env: Mapping[str, str] = os.environ) -> ModelSettings:
    rasa_url = env.get("KEFU_RASA_URL") or f"http://127.0.0.1:{_get(env, 'KEFU_RASA_PORT')}"
    urls = tuple(u.strip().rstrip("/") for u in env.get("KEFU_RASA_SERVER_URLS", "").split(",") if u.strip())
    return ModelSettings(
        database_url=_get_or_default(env, "KEFU_DATABASE_URL"),
        models_dir=Path(_get_or_default(env, "KEFU_MODELS_DIR")),
        rasa_server_urls=urls or (rasa_url.rstrip("/"),),
        rasa_token=rasa_token(env),
        heldout_files=tuple(
            Path(p.strip()) for p in _get_or_default(env, "KEFU_HELDOUT_FILES").split(",") if p.strip()
        ),
        train_data=Path(_get_or_default(env, "KEFU_TRAIN_DATA")),
        first_model=Path(env["KEFU_MODEL"]) if env.get("KEFU_MODEL") else None,
    )


# -- docs/configuration.md ------------------------------------------------------------------
TABLE_HEADER = ("| variable | default | meaning | read by |", "| --- | --- | --- | --- |")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table_rows() -> list[str]:
    return [f"| `{v.name}` | {_cell(v.shown_default)} | {_cell(v.meaning)} | {_cell(v.read_by)} |" for v in VARIABLES]


def markdown_table() -> str:
    return "\n".join([*TABLE_HEADER, *table_rows()]) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
