"""The action server's access to the desk database."""
from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any, Callable, TypeVar

from sqlalchemy.orm import sessionmaker

from desk.config import load_settings
from desk.db import make_engine

T = TypeVar("T")


@lru_cache(maxsize=1)
def _sessions() -> sessionmaker:
    # One engine per action-server process, built from KEFU_DATABASE_URL.
    return sessionmaker(make_engine(load_settings().database_url), expire_on_commit=False, future=True)


async def in_db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call in a thread so the action server stays responsive."""

    def call() -> T:
        with _sessions()() as session:
            return fn(session, *args, **kwargs)

    return await asyncio.to_thread(call)
