"""`kefu run`: Rasa, the action server, the desk and the reminder worker as
one foreground unit.

One Ctrl-C (or SIGTERM) stops all of them; if one dies the others are stopped
too, so a half-running system never looks healthy.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional


from desk.config import PROJECT_ROOT, load_settings
from desk.db import upgrade

STOP_GRACE_SECONDS = 15
CHANNEL_DEFAULTS = {
    "WECHAT_TOKEN": "",
    "WECHAT_APPID": "",
    "WECHAT_APPSECRET": "",
    "WECHAT_ENCODING_AES_KEY": "",
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    "WECHAT_REPLY_BUDGET_SECONDS": "4",
    "WECHAT_TIMESTAMP_TOLERANCE_SECONDS": "300",
    "WECOM_CORPID": "",
    "WECOM_SECRET": "",
    "WECOM_TOKEN": "",
    "WECOM_ENCODING_AES_KEY": "",
    "WECOM_API_BASE": "https://qyapi.weixin.qq.com",
    "TAOBAO_APP_KEY": "",
    "TAOBAO_APP_SECRET": "",
    "TAOBAO_SESSION": "",
    "TAOBAO_API_BASE": "https://eco.taobao.com/router/rest",
    "TAOBAO_SIGN_METHOD": "md5",
    "TAOBAO_CHAT_METHOD": "taobao.message.chatrobot.async",
}


@dataclass(frozen=True)
class Ports:
    rasa: int
    actions: int
    desk: int


def ports_from_env(env: Dict[str, str]) -> Ports:
    return Ports(
        rasa=int(env.get("KEFU_RASA_PORT", "5005")),
        actions=int(env.get("KEFU_ACTIONS_PORT", "5055")),
        desk=int(env.get("KEFU_DESK_PORT", "8000")),
    )


def service_env(base: Dict[str, str], ports: Ports) -> Dict[str, str]:
    """Environment shared by the three processes (read by bot/endpoints.yml)."""
    env = dict(base)
    var = PROJECT_ROOT / "var"
    env.setdefault("KEFU_DATABASE_URL", load_settings().database_url)
    env.setdefault("KEFU_ACTION_ENDPOINT", f"http://127.0.0.1:{ports.actions}/webhook")
    env.setdefault("KEFU_RASA_URL", f"http://127.0.0.1:{ports.rasa}")
    env.setdefault("KEFU_TRACKER_DIALECT", "sqlite")
    env.setdefault("KEFU_TRACKER_DB", str(var / "rasa_tracker.db"))
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    # bot/credentials.yml reads these; Rasa refuses unset variables there.
    for name, default in CHANNEL_DEFAULTS.items():
        env.setdefault(name, default)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(shared_store_env(env))
    env["KEFU_RASA_PORT"], env["KEFU_ACTIONS_PORT"], env["KEFU_DESK_PORT"] = (
        str(ports.rasa), str(ports.actions), str(ports.desk))
    # Custom NLU components and channels are imported by module path.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), base.get("PYTHONPATH")]))
    return env


def shared_store_env(env: Dict[str, str]) -> Dict[str, str]:
    """KEFU_TRACKER_URL (PostgreSQL) and KEFU_REDIS_URL as the pieces that
    bot/endpoints-shared.yml reads; nothing when they are not both set."""
    if not (env.get("KEFU_TRACKER_URL") and env.get("KEFU_REDIS_URL")):
        return {}
    from urllib.parse import urlsplit

    from sqlalchemy.engine import make_url

    tracker = make_url(env["KEFU_TRACKER_URL"])
    redis = urlsplit(env["KEFU_REDIS_URL"])
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
        "KEFU_REDIS_PREFIX": env.get("KEFU_REDIS_PREFIX", "kefu"),
    }


def endpoints_file(env: Dict[str, str]) -> Path:
    shared = bool(env.get("KEFU_TRACKER_URL") and env.get("KEFU_REDIS_URL"))
    return PROJECT_ROOT / "bot" / ("endpoints-shared.yml" if shared else "endpoints.yml")


def latest_model(models_dir: Path) -> Path:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"error: no trained model in {models_dir}; run 'make train' first")
    return models[-1]


def commands(ports: Ports, model: Path, rasa_token: Optional[str] = None,
             reminder_workers: int = 1, endpoints: Optional[Path] = None) -> Dict[str, List[str]]:
    # Rasa's HTTP API can read and rewrite any conversation: with a token set
    # only the desk (which sends it) may use it. Channels stay open.
    auth = ["--auth-token", rasa_token] if rasa_token else []
    return {
        # rasa-sdk's own server, started through kefu.action_server so that
        # its logs are masked (phone numbers, addresses) like the others.
        "actions": [sys.executable, "-m", "kefu.action_server", "--actions", "actions",
                    "--port", str(ports.actions)],
        "rasa": [sys.executable, "-m", "kefu.rasa_server", "run", "--enable-api", "--port", str(ports.rasa),
                 "--model", str(model),
                 "--credentials", str(PROJECT_ROOT / "bot" / "credentials.yml"),
                 "--endpoints", str(endpoints or PROJECT_ROOT / "bot" / "endpoints.yml"),
                 "--cors", "*", *auth],
        "desk": [sys.executable, "-m", "kefu.cli", "desk"],
        # SQLite allows one reminder worker; more only on PostgreSQL.
        **{f"reminders{i or ''}": [sys.executable, "-m", "kefu.cli", "reminders", "run"]
           for i in range(reminder_workers)},
    }


def prepare(env: Dict[str, str]) -> None:
    """Schema first, so no service starts against a missing table."""
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    upgrade(env["KEFU_DATABASE_URL"])
    if env["KEFU_TRACKER_DIALECT"] == "sqlite":
        Path(env["KEFU_TRACKER_DB"]).parent.mkdir(parents=True, exist_ok=True)


def run(model: Optional[Path] = None) -> int:
    ports = ports_from_env(os.environ)
    env = service_env(dict(os.environ), ports)
    prepare(env)
    model = model or latest_model(PROJECT_ROOT / "models")
    procs: Dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(signum=None, _frame=None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"kefu: rasa :{ports.rasa}  actions :{ports.actions}  desk :{ports.desk}  reminders  model {model.name}",
          flush=True)
    workers = int(env.get("KEFU_REMINDER_WORKERS", "1"))
    if workers > 1 and env["KEFU_DATABASE_URL"].startswith("sqlite"):
        print("kefu: several reminder workers need PostgreSQL; starting one on SQLite", file=sys.stderr)
        workers = 1
    for name, cmd in commands(ports, model, env.get("KEFU_RASA_TOKEN") or None, workers,
                              endpoints_file(env)).items():
        procs[name] = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT)
    write_pids(procs)

    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"kefu: {name} exited with code {proc.returncode}; stopping the others",
                      file=sys.stderr, flush=True)
                exit_code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.3)
    terminate(procs)
    return exit_code


def terminate(procs: Dict[str, subprocess.Popen]) -> None:
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


def write_pids(procs: Dict[str, subprocess.Popen]) -> None:
    """For bench/chat_load.py, which reports each process's peak memory."""
    lines = [f"{name} {proc.pid}" for name, proc in procs.items()]
    path = Path(os.environ.get("KEFU_PID_FILE") or PROJECT_ROOT / "var" / "kefu.pids")
    path.write_text("\n".join(lines) + "\n")
