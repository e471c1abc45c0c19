"""Start and stop the embedded (`kefu run`) and scaled (`kefu run --scaled`)
profiles on free loopback ports for a benchmark, each on throw-away stores:
a temporary SQLite directory, or (tests/support/scaled_stack.py) its own PostgreSQL
databases and Redis key prefix; and the stock Rasa bot of bench/stock_bot/
that Kefu's throughput is compared with."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.scaled_stack import free_port, scaled_stack, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Running:
    url: str  # where customers' messages go
    pid_file: Path
    health: list[str]  # every process's health URL
    desk_url: str = ""
    env: dict[str, str] | None = None


@contextmanager
def _process(env: dict[str, str], args: list[str], running: Running, log: Path, root: Path = ROOT) -> Iterator[Running]:
    # root: another checkout of Kefu (bench/compare_commits.py); `python -m`
    # imports the kefu package of the working directory first.
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "run", *args],
        cwd=root,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(proc, running.health, log)
        yield running
    finally:
        stop(proc)


@contextmanager
def embedded(extra_env: dict[str, str] | None = None, root: Path = ROOT) -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        ports = {n: free_port() for n in ("rasa", "actions", "desk")}
        env = {
            **os.environ,
            "KEFU_RASA_PORT": str(ports["rasa"]),
            "KEFU_ACTIONS_PORT": str(ports["actions"]),
            "KEFU_DESK_PORT": str(ports["desk"]),
            "KEFU_DATABASE_URL": f"sqlite:///{tmp}/kefu.db",
            "KEFU_TRACKER_DB": f"{tmp}/tracker.db",
            "KEFU_PID_FILE": f"{tmp}/kefu.pids",
            "KEFU_REMINDER_WORKERS": "0",
            # Not the project's var/rasa_token: a benchmark leaves nothing behind.
            "KEFU_RASA_TOKEN": uuid.uuid4().hex,
            **(extra_env or {}),
        }
        for name in ("KEFU_TRACKER_URL", "KEFU_REDIS_URL"):
            env.pop(name, None)
        running = Running(
            url=f"http://127.0.0.1:{ports['rasa']}",
            pid_file=Path(tmp) / "kefu.pids",
            health=[
                f"http://127.0.0.1:{ports['rasa']}/webhooks/rest/",
                f"http://127.0.0.1:{ports['actions']}/health",
                f"http://127.0.0.1:{ports['desk']}/healthz",
            ],
            desk_url=f"http://127.0.0.1:{ports['desk']}",
            env=env,
        )
        with _process(env, [], running, Path(tmp) / "stack.log", root) as up:
            yield up


@contextmanager
def scaled(rasa_servers: int = 2, action_servers: int = 2) -> Iterator[Running]:
    with (
        tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp,
        scaled_stack(Path(tmp), rasa_servers, action_servers) as up,
    ):
        yield Running(url=up.public_url, pid_file=up.pid_file, health=up.health_urls())


STOCK_BOT = ROOT / "bench" / "stock_bot"


def stock_model() -> Path:
    """bench/stock_bot trained with `rasa train`, once per version of its files
    (the model's name carries their hash)."""
    digest = hashlib.sha256()
    for path in sorted(STOCK_BOT.rglob("*.yml")):
        digest.update(path.relative_to(STOCK_BOT).as_posix().encode() + b"\0" + path.read_bytes())
    name = f"stock-{digest.hexdigest()[:12]}"
    model = ROOT / "var" / "bench-stock" / f"{name}.tar.gz"
    if not model.exists():
        rasa = [sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml"]
        args = ["--data", "data", "--out", str(model.parent), "--fixed-model-name", name]
        # Rasa's training cache beside the model, not in bench/stock_bot/.rasa.
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "RASA_CACHE_DIRECTORY": str(model.parent / "cache")}
        subprocess.run([*rasa, *args], cwd=STOCK_BOT, env=env, check=True)
    return model


@contextmanager
def stock() -> Iterator[Running]:
    """`rasa run` of the stock bot: REST channel, in-memory tracker store, no
    action server, on a free loopback port."""
    model = stock_model()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kefu-bench-stock-") as tmp:
        log = Path(tmp) / "rasa.log"
        pid_file = Path(tmp) / "stock.pids"
        args = ["-m", "rasa", "run", "--model", str(model), "-i", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(
            [sys.executable, *args, "--credentials", "credentials.yml"],
            cwd=STOCK_BOT,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pid_file.write_text(f"rasa {proc.pid}\n")
        url = f"http://127.0.0.1:{port}"
        running = Running(url=url, pid_file=pid_file, health=[f"{url}/webhooks/rest/"])
        try:
            wait_ready(proc, running.health, log)
            yield running
        finally:
            stop(proc)
