"""Agents, their password hashes (scrypt) and API tokens.

Names are stored in Unicode NFKC form with no invisible characters, and
two names that differ only in case are one name: a supervisor reading
"ａｌｉｃｅ", "alice\u200b" or "Alice" next to "alice" cannot tell them apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest, Conflict, Forbidden
from kefu.core.models import Agent, AgentToken, Conversation, ConversationStatus, utcnow
from kefu.core.permissions import ROLES, Role

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_NAME_CHARS = 64
MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 10, 128
# Control, format (zero-width, bidi), surrogate, private-use, unassigned and
# line/paragraph separators: nothing a person can see or type on purpose.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Letters that render as blank space (Hangul fillers, braille blank).
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


class AgentExists(Conflict):
    def __init__(self, name: str, existing: str | None = None) -> None:
        if existing is None or existing == name:
            super().__init__(f"agent {name!r} already exists")
        else:
            super().__init__(f"agent {name!r} looks the same as the existing agent {existing!r}")
        self.name = name


class BadAgentName(BadRequest, ValueError):
    pass


class BadPassword(BadRequest, ValueError):
    pass


class AgentDisabled(Forbidden):
    def __init__(self) -> None:
        super().__init__("this account is disabled; ask a supervisor")


def lookup_name(name: str) -> str:
    """The form a name is stored in (NFKC, trimmed), to find an account."""
    return unicodedata.normalize("NFKC", name).strip()


def normalize_name(name: str) -> str:
    """A new agent's name: NFKC, trimmed, visible characters and single spaces only."""
    name = lookup_name(name)
    if not name:
        raise BadAgentName("agent name must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise BadAgentName(f"agent name must be at most {MAX_NAME_CHARS} characters")
    for char in name:
        if (
            unicodedata.category(char) in _INVISIBLE_CATEGORIES
            or char in _BLANK_LETTERS
            or (char.isspace() and char != " ")
        ):
            raise BadAgentName(f"agent name contains an invisible character (U+{ord(char):04X})")
    if "  " in name:
        raise BadAgentName("agent name must not contain several spaces in a row")
    return name


def check_new_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise BadPassword(f"the new password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    if password != password.strip():
        raise BadPassword("the new password must not begin or end with a space")
    return password


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
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def add_agent(session: Session, name: str, role: str = Role.agent.value) -> tuple[Agent, str]:
    """Create an agent; returns it with its one-time password (shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    role = Role(role).value  # the plain text, also when given a Role
    name = normalize_name(name)
    folded = name.casefold()
    for existing in session.execute(select(Agent.name)).scalars():
        if lookup_name(existing).casefold() == folded:
            raise AgentExists(name, existing)
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


def find_agent(session: Session, name: str) -> Agent | None:
    """By the NFKC form of the name; an account created before names were
    normalised is still found by its exact spelling."""
    found = {
        a.name: a for a in session.execute(select(Agent).where(Agent.name.in_({lookup_name(name), name}))).scalars()
    }
    return found.get(lookup_name(name)) or found.get(name)


def login(session: Session, name: str, password: str, ttl_hours: int) -> str | None:
    """A new bearer token for valid credentials, else None; AgentDisabled
    (only once the password is right) for a disabled account."""
    agent = find_agent(session, name)
    if agent is None:
        # Same work as a real check, so timing does not reveal agent names.
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, agent.password_hash):
        return None
    if agent.disabled_at is not None:
        raise AgentDisabled()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(AgentToken).where(AgentToken.expires_at < now))
    session.add(
        AgentToken(
            token_hash=_token_hash(token),
            agent_id=agent.id,
            expires_at=now + timedelta(hours=ttl_hours),
        )
    )
    session.commit()
    return token


def agent_for_token(session: Session, token: str) -> Agent | None:
    row = session.get(AgentToken, _token_hash(token))
    if row is None or row.expires_at < utcnow():
        return None
    agent = session.get(Agent, row.agent_id)
    return agent if agent is not None and agent.disabled_at is None else None


def _token_hash(token: str) -> str:
    # Only hashes are stored: a leaked database gives no usable token.
    return hashlib.sha256(token.encode()).hexdigest()


def logout(session: Session, token: str) -> None:
    session.execute(delete(AgentToken).where(AgentToken.token_hash == _token_hash(token)))
    session.commit()


def end_sessions(session: Session, agent_id: int, keep_token: str | None = None) -> None:
    """Sign the agent out everywhere (but in the session keep_token names)."""
    query = delete(AgentToken).where(AgentToken.agent_id == agent_id)
    if keep_token is not None:
        query = query.where(AgentToken.token_hash != _token_hash(keep_token))
    session.execute(query)


def change_password(session: Session, agent_id: int, old: str, new: object, keep_token: str) -> bool:
    """False when `old` is wrong. Other sessions end: whoever knew the old
    password is signed out."""
    agent = session.get(Agent, agent_id)
    if agent is None or not verify_password(old, agent.password_hash):
        return False
    new = check_new_password(new)
    if new == old:
        raise BadPassword("the new password must differ from the old one")
    agent.password_hash = hash_password(new)
    end_sessions(session, agent.id, keep_token)
    session.commit()
    return True


def reset_password(session: Session, agent: Agent) -> str:
    """A new one-time password (shown once); every session of the agent ends."""
    password = secrets.token_urlsafe(12)
    agent.password_hash = hash_password(password)
    end_sessions(session, agent.id)
    session.commit()
    return password


def set_disabled(session: Session, agent: Agent, disabled: bool) -> Agent:
    """Disabling ends the agent's sessions at once and puts the customers they
    were serving back in the waiting queue (nobody else could answer them);
    enabling lets them sign in again."""
    if disabled:
        now = utcnow()
        if agent.disabled_at is None:
            agent.disabled_at = now
        end_sessions(session, agent.id)
        session.execute(
            update(Conversation)
            .where(
                Conversation.assignee_id == agent.id,
                Conversation.status == ConversationStatus.assigned.value,
            )
            .values(assignee_id=None, status=ConversationStatus.waiting.value, waiting_since=now, updated_at=now)
        )
    else:
        agent.disabled_at = None
    session.commit()
    return agent


def list_agents(session: Session) -> list[Agent]:
    return list(session.execute(select(Agent).order_by(Agent.id)).scalars())


def agent_to_json(agent: Agent) -> dict:
    return {"id": agent.id, "name": agent.name, "role": agent.role, "disabled": agent.disabled_at is not None}
