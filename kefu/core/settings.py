"""Runtime configuration read from the environment (the only global state)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Optional

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'kefu.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    rasa_url: str
    desk_port: int
    # Public in the embedded profile; behind the scaled profile's nginx,
    # loopback (agents reach the desk through nginx).
    desk_host: str = "0.0.0.0"
    rasa_token: Optional[str] = None
    token_ttl_hours: int = 12
    # Reverse proxies whose X-Real-IP names the client (the scaled profile's
    # nginx); from anyone else the header is ignored, so it cannot be forged.
    trusted_proxies: FrozenSet[str] = frozenset()


def rasa_token_file() -> Path:
    """Where `kefu run` keeps the Rasa API token it made (KEFU_RASA_TOKEN_FILE
    moves it, for tests that must not touch the project's var/)."""
    return Path(os.environ.get("KEFU_RASA_TOKEN_FILE") or PROJECT_ROOT / "var" / "rasa_token")


def rasa_token() -> Optional[str]:
    """KEFU_RASA_TOKEN, else the token `kefu run` wrote, else None (then Rasa's
    API answers this process 401, which names the problem)."""
    token = os.environ.get("KEFU_RASA_TOKEN")
    if token:
        return token
    try:
        return rasa_token_file().read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def load_settings() -> Settings:
    rasa_port = int(os.environ.get("KEFU_RASA_PORT", "5005"))
    return Settings(
        database_url=os.environ.get("KEFU_DATABASE_URL") or DEFAULT_DATABASE_URL,
        rasa_url=os.environ.get("KEFU_RASA_URL") or f"http://127.0.0.1:{rasa_port}",
        desk_port=int(os.environ.get("KEFU_DESK_PORT", "8000")),
        desk_host=os.environ.get("KEFU_DESK_HOST") or "0.0.0.0",
        rasa_token=rasa_token(),
        trusted_proxies=frozenset(a.strip() for a in os.environ.get("KEFU_TRUSTED_PROXIES", "").split(",")
                                  if a.strip()),
    )
