"""A throw-away scaled profile (`kefu run --scaled`) on free loopback ports,
for the tests and the benchmarks: its own PostgreSQL databases and Redis key
prefix, dropped afterwards, because other runs share those servers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kefu.core.settings import PROJECT_ROOT

PG_ADMIN_URL = os.environ.get("KEFU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("KEFU_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
STARTUP_TIMEOUT = 400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 60,
) -> tuple[int, Any]:
    """One request; (status, JSON body or text). HTTP errors are answers too."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        payload, status = err.read(), err.code
    try:
        return status, json.loads(payload) if payload else None
    except json.JSONDecodeError:
        return status, payload.decode(errors="replace")


def with_token(url: str, token: str) -> str:
    """url with Rasa's API token (`?token=`, as Rasa's --auth-token reads it)."""
    from urllib.parse import quote

    return f"{url}{'&' if '?' in url else '?'}token={quote(token, safe='')}"


@contextmanager
def pg_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new PostgreSQL database; dropped afterwards, connections and all."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    name = f"kefu_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@dataclass
class Scaled:
    public_url: str
    rasa_urls: list[str]
    action_urls: list[str]
    desk_url: str
    database_url: str
    tracker_url: str
    env: dict[str, str]
    access_log: Path  # nginx: one line per request with the routing key and the server
    pid_file: Path
    log_path: Path
    proc: subprocess.Popen

    def post(self, sender: str, text: str, message_id: str | None = None, timeout: float = 180) -> tuple[int, Any]:
        body = {"sender": sender, "message": text, **({"message_id": message_id} if message_id else {})}
        return http("POST", f"{self.public_url}/webhooks/rest/webhook", body, timeout=timeout)

    def say(self, sender: str, text: str) -> list[str]:
        status, replies = self.post(sender, text)
        assert status == 200, (status, replies)
        return [r.get("text", "") for r in replies]

    def rasa_api(self, method: str, path: str, body: Any = None, server: int = 0) -> tuple[int, Any]:
        """Rasa's HTTP API on one Rasa server (path like "/conversations/x/tracker"), with the token."""
        return http(method, with_token(f"{self.rasa_urls[server]}{path}", self.env["KEFU_RASA_TOKEN"]), body)

    def pids(self) -> dict[str, int]:
        rows = (line.split() for line in self.pid_file.read_text().splitlines() if line.strip())
        return {name: int(pid) for name, pid in rows}

    def health_urls(self) -> list[str]:
        return (
            [f"{u}/webhooks/rest/" for u in self.rasa_urls]
            + [f"{u}/health" for u in self.action_urls]
            + [f"{self.desk_url}/healthz", f"{self.public_url}/webhooks/rest/", f"{self.public_url}/healthz"]
        )


def healthy(url: str) -> bool:
    try:
        return http("GET", url, timeout=5)[0] == 200
    except OSError:  # not listening (yet)
        return False


def wait_ready(proc: subprocess.Popen, urls: list[str], log_path: Path, timeout: float = STARTUP_TIMEOUT) -> None:
    """Until every health URL answers 200, in order; a clear error with the
    log's tail if the process exits or time runs out."""
    checks = list(urls)
    deadline = time.monotonic() + timeout
    while checks:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{' '.join(map(str, proc.args[1:]))} exited early; log:\n{log_path.read_text()[-4000:]}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready: {checks}; log:\n{log_path.read_text()[-4000:]}")
        if healthy(checks[0]):
            checks.pop(0)
            continue
        time.sleep(1)


@contextmanager
def scaled_stack(
    workdir: Path,
    rasa_servers: int = 2,
    action_servers: int = 2,
    redis_url: str = REDIS_URL,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Scaled]:
    prefix = f"kefutest{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in ("public", "internal", "desk")}
    rasa = [free_port() for _ in range(rasa_servers)]
    actions = [free_port() for _ in range(action_servers)]
    with pg_database() as database_url, pg_database() as tracker_url:
        env = {
            **os.environ,
            "KEFU_DATABASE_URL": database_url,
            "KEFU_TRACKER_URL": tracker_url,
            "KEFU_REDIS_URL": redis_url,
            "KEFU_REDIS_PREFIX": prefix,
            "KEFU_PUBLIC_HOST": "127.0.0.1",
            "KEFU_PUBLIC_PORT": str(ports["public"]),
            "KEFU_INTERNAL_PORT": str(ports["internal"]),
            "KEFU_DESK_PORT": str(ports["desk"]),
            "KEFU_RASA_PORTS": ",".join(map(str, rasa)),
            "KEFU_ACTIONS_PORTS": ",".join(map(str, actions)),
            "KEFU_NGINX_DIR": str(workdir / "nginx"),
            "KEFU_PID_FILE": str(workdir / "kefu.pids"),
            "KEFU_REMINDER_WORKERS": "0",
            "KEFU_RASA_TOKEN": uuid.uuid4().hex,
            # As `make run-scaled`: events through the machine's RabbitMQ, in
            # a queue and exchange of this stack's own (dropped afterwards).
            "KEFU_AMQP_URL": AMQP_URL,
            "KEFU_AMQP_QUEUE": prefix,
            "KEFU_AMQP_EXCHANGE": prefix,
            **(extra_env or {}),
        }
        log_path = workdir / "stack.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "kefu.cli", "run", "--scaled"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack = Scaled(
            public_url=f"http://127.0.0.1:{ports['public']}",
            rasa_urls=[f"http://127.0.0.1:{p}" for p in rasa],
            action_urls=[f"http://127.0.0.1:{p}" for p in actions],
            desk_url=f"http://127.0.0.1:{ports['desk']}",
            database_url=database_url,
            tracker_url=tracker_url,
            env=env,
            access_log=workdir / "nginx" / "access.log",
            pid_file=workdir / "kefu.pids",
            log_path=log_path,
            proc=proc,
        )
        try:
            wait_ready(proc, stack.health_urls(), log_path)
            yield stack
        finally:
            stop(proc)
            drop_redis_prefix(redis_url, prefix)
            drop_amqp(AMQP_URL, prefix)


def drop_amqp(url: str, name: str) -> None:
    """Delete a test's RabbitMQ queue and exchange (both named `name`)."""
    import asyncio

    import aio_pika

    async def drop() -> None:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.exchange_delete(name)

    asyncio.run(drop())


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, as a terminal's Ctrl-C would reach it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def drop_redis_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # a test that stopped its Redis on purpose
    finally:
        client.close()
