"""Agents, their password hashes (scrypt) and API tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import lru_cache
from typing import Optional, Tuple

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desk.models import Agent, AgentToken, utcnow

ROLES = ("agent", "supervisor")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AgentExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"agent {name!r} already exists")
        self.name = name


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def add_agent(session: Session, name: str, role: str = "agent") -> Tuple[Agent, str]:
    """Create an agent; returns it with its one-time password (shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    password = secrets.token_urlsafe(12)
    agent = Agent(name=name, password_hash=hash_password(password), role=role)
    session.add(agent)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AgentExists(name) from None
    return agent, password


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-an-agent")


def login(session: Session, name: str, password: str, ttl_hours: int) -> Optional[str]:
    """A new bearer token for valid credentials, else None."""
    agent = session.execute(select(Agent).where(Agent.name == name)).scalar_one_or_none()
    if agent is None:
        # Same work as a real check, so timing does not reveal agent names.
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, agent.password_hash):
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(AgentToken).where(AgentToken.expires_at < now))
    session.add(AgentToken(
        token_hash=_token_hash(token), agent_id=agent.id,
        expires_at=now + timedelta(hours=ttl_hours),
    ))
    session.commit()
    return token


def agent_for_token(session: Session, token: str) -> Optional[Agent]:
    row = session.get(AgentToken, _token_hash(token))
    if row is None or row.expires_at < utcnow():
        return None
    return session.get(Agent, row.agent_id)


def _token_hash(token: str) -> str:
    # Only hashes are stored: a leaked database gives no usable token.
    return hashlib.sha256(token.encode()).hexdigest()


def logout(session: Session, token: str) -> None:
    session.execute(delete(AgentToken).where(AgentToken.token_hash == _token_hash(token)))
    session.commit()
