"""`kefu run`: Rasa, the action server, the desk and the reminder worker as
one foreground unit.

One Ctrl-C (or SIGTERM) stops all of them. One that dies is started again
with a log line; one that keeps dying (a crash loop) stops all of them with a
non-zero exit, so a broken system never looks healthy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from kefu.core.db import upgrade
from kefu.core.settings import (
    CREDENTIALS_VARIABLES,
    PROJECT_ROOT,
    SCALED_DEFAULTS,
    Ports,
    ScaledSettings,
    SupervisorSettings,
    TrackerSettings,
    default,
    environment,
    events_db,
    load_action_server_settings,
    load_model_settings,
    load_supervisor_settings,
    rasa_token_file,
)
from kefu.runtime import balancer, live_model
from kefu.runtime.action_server import checked_settings
from kefu.runtime.balancer import Layout
from kefu.runtime.model_watch import ModelWatch

STOP_GRACE_SECONDS = 15
# A process that dies this often in this window is crashing, not being
# killed; then everything stops instead of restarting forever.
CRASH_LOOP_DEATHS = 3
CRASH_LOOP_WINDOW_SECONDS = int(default("KEFU_CRASH_LOOP_WINDOW_SECONDS"))
# bot/credentials.yml reads these; Rasa refuses unset variables there.
CHANNEL_DEFAULTS = {name: default(name) for name in CREDENTIALS_VARIABLES}


def service_env(base: dict[str, str], ports: Ports, tracker: TrackerSettings) -> dict[str, str]:
    """Environment shared by the three processes (read by bot/endpoints.yml):
    base plus the declared default of each variable left unset
    (kefu/core/settings.py)."""
    env = dict(base)
    env.setdefault("KEFU_DATABASE_URL", default("KEFU_DATABASE_URL"))
    env.setdefault("KEFU_ACTION_ENDPOINT", f"http://127.0.0.1:{ports.actions}/webhook")
    env.setdefault("KEFU_RASA_URL", f"http://127.0.0.1:{ports.rasa}")
    # KEFU_ACTIONS_TOKEN: bot/endpoints*.yml sends it to the action server
    # (empty: none needed on loopback).
    for name in (
        "KEFU_TRACKER_DIALECT",
        "KEFU_TRACKER_DB",
        "RASA_TELEMETRY_ENABLED",
        "KEFU_ACTIONS_TOKEN",
        *CREDENTIALS_VARIABLES,
        "TF_CPP_MIN_LOG_LEVEL",
    ):
        env.setdefault(name, default(name))
    env.update(shared_store_env(tracker))
    env["KEFU_EVENTS_DB"] = str(events_db(env))
    env["KEFU_RASA_PORT"], env["KEFU_ACTIONS_PORT"], env["KEFU_DESK_PORT"] = (
        str(ports.rasa),
        str(ports.actions),
        str(ports.desk),
    )
    # Custom NLU components and channels are imported by module path.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), base.get("PYTHONPATH")]))
    return env


def shared_store_env(settings: TrackerSettings) -> dict[str, str]:
    """KEFU_TRACKER_URL (PostgreSQL) and KEFU_REDIS_URL as the pieces that
    bot/endpoints-shared.yml reads; nothing when they are not both set."""
    if not settings.shared:
        return {}
    from urllib.parse import urlsplit

    from sqlalchemy.engine import make_url

    tracker = make_url(settings.url)
    redis = urlsplit(settings.redis_url)
    return {
        "KEFU_TRACKER_DIALECT": tracker.get_backend_name(),
        "KEFU_TRACKER_HOST": tracker.host or "127.0.0.1",
        "KEFU_TRACKER_PORT": str(tracker.port or 5432),
        "KEFU_TRACKER_DB": tracker.database or "",
        "KEFU_TRACKER_USER": tracker.username or "",
        "KEFU_TRACKER_PASSWORD": tracker.password or "",
        "KEFU_REDIS_HOST": redis.hostname or "127.0.0.1",
        "KEFU_REDIS_PORT": str(redis.port or 6379),
        "KEFU_REDIS_DB": (redis.path or "/0").lstrip("/") or "0",
        "KEFU_REDIS_PREFIX": settings.redis_prefix,
        **amqp_env(settings),
    }


def amqp_env(settings: TrackerSettings) -> dict[str, str]:
    """KEFU_AMQP_URL as the pieces Rasa's Pika broker reads (bot/endpoints-scaled.yml)."""
    if not settings.amqp_url:
        return {}
    from urllib.parse import unquote, urlsplit

    amqp = urlsplit(settings.amqp_url)
    return {
        "KEFU_AMQP_HOST": settings.amqp_url,  # Rasa takes a full amqp:// URL as its host
        "KEFU_AMQP_PORT": str(amqp.port or 5672),
        "KEFU_AMQP_USER": unquote(amqp.username or "guest"),
        "KEFU_AMQP_PASSWORD": unquote(amqp.password or "guest"),
        "KEFU_AMQP_QUEUE": settings.amqp_queue,
        "KEFU_AMQP_EXCHANGE": settings.amqp_exchange,
    }


def scaled_layout(ports: Ports, scaled: ScaledSettings) -> Layout:
    """2 Rasa servers and 2 action servers by default, on consecutive ports
    (or KEFU_RASA_PORTS / KEFU_ACTIONS_PORTS), nginx on KEFU_PUBLIC_PORT."""
    local = lambda ports: [f"127.0.0.1:{p}" for p in ports]  # noqa: E731
    return Layout(
        public_host=scaled.public_host,
        public_port=scaled.public_port,
        internal_host="127.0.0.1",
        internal_port=scaled.internal_port,
        rasa_servers=local(scaled.rasa_ports),
        action_servers=local(scaled.action_ports),
        desk_server=f"127.0.0.1:{ports.desk}",
    )


def scaled_env(env: dict[str, str], layout: Layout) -> dict[str, str]:
    """Shared stores are required: several Rasa processes on SQLite files or
    in-memory locks would each see their own conversations. env: the
    environment the children will get, checked and completed here."""
    missing = [n for n in ("KEFU_DATABASE_URL", "KEFU_TRACKER_URL", "KEFU_REDIS_URL") if not env.get(n)]
    if missing:
        raise SystemExit(
            f"error: the scaled profile needs {', '.join(missing)} "
            "(PostgreSQL for the desk and the conversations, Redis for the locks); "
            "'make run-scaled' sets local defaults"
        )
    for name in ("KEFU_DATABASE_URL", "KEFU_TRACKER_URL"):
        if not env[name].startswith("postgresql"):
            raise SystemExit(f"error: {name} must be a postgresql:// URL in the scaled profile")
        ensure_database(env[name])
    env = dict(env)
    # Rasa reaches the action servers, and the desk reaches Rasa, through
    # nginx's loopback listener: balanced, and sticky per conversation.
    env.setdefault("KEFU_ACTION_ENDPOINT", f"http://127.0.0.1:{layout.internal_port}/webhook")
    env.setdefault("KEFU_RASA_URL", f"http://127.0.0.1:{layout.internal_port}")
    # A model going live is loaded into each Rasa server, not into one behind nginx.
    env.setdefault("KEFU_RASA_SERVER_URLS", ",".join(f"http://{a}" for a in layout.rasa_servers))
    for name, value in SCALED_DEFAULTS.items():
        env.setdefault(name, value)
    return env


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in url if it does not exist, so
    the profile starts with one command on a fresh server."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
                print(f"kefu: created PostgreSQL database {target.database}", flush=True)
    except OperationalError as exc:
        raise SystemExit(
            f"error: PostgreSQL at {target.render_as_string(hide_password=True)} is not reachable: {exc.orig}"
        )
    finally:
        admin.dispose()


def endpoints_file(tracker: TrackerSettings) -> Path:
    if tracker.shared and tracker.amqp_url:
        return PROJECT_ROOT / "bot" / "endpoints-scaled.yml"
    return PROJECT_ROOT / "bot" / ("endpoints-shared.yml" if tracker.shared else "endpoints.yml")


def rasa_command(port: int, model: Path, rasa_token: str | None, endpoints: Path, host: str = "0.0.0.0") -> list[str]:
    # Rasa's HTTP API can read and rewrite any conversation: only the desk
    # (which sends the token) may use it; kefu.runtime.rasa_server refuses to start
    # it without one. Channels stay open. Behind the scaled profile's nginx
    # a Rasa server listens on loopback only: customers reach it through nginx.
    auth = ["--auth-token", rasa_token] if rasa_token else []
    return [
        sys.executable,
        "-m",
        "kefu.runtime.rasa_server",
        "run",
        "--enable-api",
        "--interface",
        host,
        "--port",
        str(port),
        "--model",
        str(model),
        "--credentials",
        str(PROJECT_ROOT / "bot" / "credentials.yml"),
        "--endpoints",
        str(endpoints),
        "--cors",
        "*",
        *auth,
    ]


def actions_command(port: int) -> list[str]:
    # rasa-sdk's own server, started through kefu.runtime.action_server so that its
    # logs are masked (phone numbers, addresses) like the others.
    return [sys.executable, "-m", "kefu.runtime.action_server", "--actions", "actions", "--port", str(port)]


DESK_COMMAND = [sys.executable, "-m", "kefu.cli", "desk"]
REMINDERS_COMMAND = [sys.executable, "-m", "kefu.cli", "reminders", "run"]


def commands(
    ports: Ports, model: Path, rasa_token: str | None = None, reminder_workers: int = 1, endpoints: Path | None = None
) -> dict[str, list[str]]:
    return {
        "actions": actions_command(ports.actions),
        "rasa": rasa_command(ports.rasa, model, rasa_token, endpoints or PROJECT_ROOT / "bot" / "endpoints.yml"),
        "desk": DESK_COMMAND,
        **reminder_commands(reminder_workers),
    }


def reminder_commands(workers: int) -> dict[str, list[str]]:
    # SQLite allows one reminder worker; more only on PostgreSQL.
    return {f"reminders{i or ''}": REMINDERS_COMMAND for i in range(workers)}


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def host_of(address: str) -> str:
    return address.rsplit(":", 1)[0]


def scaled_commands(
    layout: Layout, model: Path, rasa_token: str | None, reminder_workers: int, endpoints: Path, nginx: list[str]
) -> dict[str, list[str]]:
    return {
        **{f"actions{i + 1}": actions_command(port_of(a)) for i, a in enumerate(layout.action_servers)},
        **{
            f"rasa{i + 1}": rasa_command(port_of(a), model, rasa_token, endpoints, host_of(a))
            for i, a in enumerate(layout.rasa_servers)
        },
        "desk": DESK_COMMAND,
        **reminder_commands(reminder_workers),
        "nginx": nginx,
    }


def prepare(env: dict[str, str]) -> None:
    """Schema first, so no service starts against a missing table. var/
    holds the databases (customers' messages and phone numbers) and the
    Rasa token: readable by the operator's account only."""
    var = PROJECT_ROOT / "var"
    var.mkdir(mode=0o700, exist_ok=True)
    var.chmod(0o700)
    upgrade(env["KEFU_DATABASE_URL"])
    if env["KEFU_TRACKER_DIALECT"] == "sqlite":
        Path(env["KEFU_TRACKER_DB"]).parent.mkdir(parents=True, exist_ok=True)
    Path(env["KEFU_EVENTS_DB"]).parent.mkdir(parents=True, exist_ok=True)


def reminder_workers(workers: int, database_url: str) -> int:
    if workers > 1 and database_url.startswith("sqlite"):
        print("kefu: several reminder workers need PostgreSQL; starting one on SQLite", file=sys.stderr)
        return 1
    return workers


def ensure_rasa_token(env: Mapping[str, str]) -> str:
    """KEFU_RASA_TOKEN, or the random token made on the first `kefu run` and
    kept in var/rasa_token (mode 0600): Rasa's HTTP API can read and rewrite
    every conversation, so it is never open, even on a laptop. The children
    get it in KEFU_RASA_TOKEN; the CLIs read the file (kefu/core/settings.py)."""
    if env.get("KEFU_RASA_TOKEN"):
        return env["KEFU_RASA_TOKEN"]
    path = rasa_token_file()
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if not token:
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        # O_EXCL with 0600: never readable by others, not even for a moment.
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        os.replace(tmp, path)
        print(f"kefu: created the Rasa API token in {path} (set KEFU_RASA_TOKEN to choose one)", flush=True)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return token


def run(model: Path | None = None, scaled: bool = False) -> int:
    base = environment()  # the children inherit all of it (PATH, HOME …)
    settings = load_supervisor_settings(base, scaled=scaled)
    ports = settings.ports
    layout = None
    if scaled:
        layout = scaled_layout(ports, settings.scaled)
        base = scaled_env(base, layout)
    env = service_env(base, ports, settings.tracker)
    # Before anything starts, not as a crash loop of the action server.
    checked_settings(load_action_server_settings(env))
    prepare(env)
    model = model or live_model.resolve(load_model_settings(env), migrate=False)
    token = env["KEFU_RASA_TOKEN"] = ensure_rasa_token(env)
    workers = reminder_workers(settings.reminder_workers, env["KEFU_DATABASE_URL"])
    if layout is not None:
        nginx = balancer.prepare(layout, settings.nginx_dir)
        # scaled_env made sure of the shared stores: endpoints-shared.yml.
        cmds = scaled_commands(layout, model, token, workers, endpoints_file(settings.tracker), nginx)
        print(
            f"kefu (scaled): public :{layout.public_port}  rasa {', '.join(layout.rasa_servers)}  "
            f"actions {', '.join(layout.action_servers)}  desk :{ports.desk}  model {model.name}",
            flush=True,
        )
    else:
        cmds = commands(ports, model, token, workers, endpoints_file(settings.tracker))
        print(
            f"kefu: rasa :{ports.rasa}  actions :{ports.actions}  desk :{ports.desk}  reminders  model {model.name}",
            flush=True,
        )
    rasa_ports = [port_of(a) for a in layout.rasa_servers] if layout is not None else [ports.rasa]
    watch = ModelWatch(
        [f"http://127.0.0.1:{p}" for p in rasa_ports],
        token,
        settings.model_check_seconds,
        wanted=live_model.Wanted(load_model_settings(env)),
    )
    return supervise(cmds, env, watch, settings)


def serve(role: str) -> int:
    """One process of one kind in the foreground, with the environment `kefu
    run` would give it: the command of a container or a systemd unit when the
    kinds run on different machines (docs/deploy.md)."""
    base = environment()
    settings = load_supervisor_settings(base)
    if role in ("rasa", "desk") and not settings.rasa_token:
        # A token file made on one machine would differ from the next
        # machine's: one shared secret, set by the operator, or no start.
        raise SystemExit(
            f"error: kefu serve {role} needs KEFU_RASA_TOKEN, the secret shared by the Rasa "
            "servers and the desk (e.g. `openssl rand -hex 32`, the same on every machine); "
            "Rasa's HTTP API is never left open"
        )
    ports = settings.ports
    env = service_env(base, ports, settings.tracker)
    if role == "actions":
        checked_settings(load_action_server_settings(env))
    cmd = {
        "rasa": lambda: rasa_command(
            ports.rasa,
            live_model.resolve(load_model_settings(env)),
            settings.rasa_token,
            endpoints_file(settings.tracker),
        ),
        "actions": lambda: actions_command(ports.actions),
        "desk": lambda: DESK_COMMAND,
        "reminders": lambda: REMINDERS_COMMAND,
    }[role]()
    os.chdir(PROJECT_ROOT)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


def supervise(
    cmds: dict[str, list[str]],
    env: dict[str, str],
    watch: Callable[[], None] | None = None,
    settings: SupervisorSettings | None = None,
) -> int:
    """Run the processes until a signal. A process that dies is started
    again (a dead action server or desk must not end every conversation;
    in the scaled profile the load balancer sends its work to the others
    meanwhile), unless it keeps dying: a crash loop is a fault, and then all
    stop with a non-zero exit. `watch` is called on every round. settings:
    read from env when not given (the pid file, the crash-loop window)."""
    settings = settings or load_supervisor_settings(env)
    procs: dict[str, subprocess.Popen] = {}
    deaths: dict[str, list[float]] = {}
    stopping = False

    def stop(signum=None, _frame=None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    for name, cmd in cmds.items():
        procs[name] = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT)
    write_pids(procs, settings.pid_file)

    # KEFU_CRASH_LOOP_WINDOW_SECONDS: for a test that kills a process by hand.
    window = settings.crash_loop_window_seconds
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is None:
                continue
            now = time.monotonic()
            recent = [t for t in deaths.get(name, []) if now - t < window] + [now]
            deaths[name] = recent
            if len(recent) < CRASH_LOOP_DEATHS:
                print(
                    f"kefu: {name} (pid {proc.pid}) exited with code {proc.returncode}; starting it again "
                    f"({len(recent)} of {CRASH_LOOP_DEATHS - 1} restarts allowed in {window:g} s)",
                    file=sys.stderr,
                    flush=True,
                )
                procs[name] = subprocess.Popen(cmds[name], env=env, cwd=PROJECT_ROOT)
                write_pids(procs, settings.pid_file)
                break
            print(
                f"kefu: {name} exited with code {proc.returncode}, {len(recent)} times in {window:g} s; "
                "stopping everything",
                file=sys.stderr,
                flush=True,
            )
            exit_code = proc.returncode or 1
            stopping = True
            break
        if watch is not None and not stopping:
            watch()
        time.sleep(0.3)
    terminate(procs)
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return exit_code


def terminate(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_pids(procs: dict[str, subprocess.Popen], path: Path) -> None:
    """For bench/chat_load.py, which reports each process's peak memory."""
    lines = [f"{name} {proc.pid}" for name, proc in procs.items()]
    path.write_text("\n".join(lines) + "\n")
