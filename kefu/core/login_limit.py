"""Failed desk logins: guessing is stopped, but nobody can lock an agent out.

A wrong password counts against the name *from that address* and against
the address:
- 5 failures for one name from one address in 15 minutes: that address
  waits (429) for that name; the agent signs in from their own address
  as usual.
- 20 failures from one address in 15 minutes: that address waits for every
  name (one address guessing many names).
- Guesses at one name spread over many addresses slow down every attempt
  at that name: each failure beyond 5 doubles a delay before the answer,
  up to DELAY_CAP. A delay, never a lock: the right password still gets in.
A successful login forgets that name's failures from that address; a
supervisor's unlock (`POST /api/agents/{id}/unlock`, `kefu agent unlock`)
forgets them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kefu.core.models import LoginFailure

WINDOW = timedelta(minutes=15)
MAX_PER_NAME_AND_IP = 5
MAX_PER_IP = 20
DELAY_BASE_SECONDS = 0.5
DELAY_CAP_SECONDS = 8.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    delay: float = 0.0  # seconds to wait before checking the password


def delay_for(name_failures: int) -> float:
    beyond = name_failures - MAX_PER_NAME_AND_IP
    if beyond <= 0:
        return 0.0
    return min(DELAY_CAP_SECONDS, DELAY_BASE_SECONDS * 2 ** min(beyond - 1, 16))


def admit(session: Session, name: str, ip: str, now: datetime) -> Verdict:
    """Count this attempt as a failure up front (a success clears it)."""
    record_failure(session, name, ip, now)
    name, ip = name[:64], ip[:64]
    since = now - WINDOW

    def count(*where: Any) -> int:
        return session.execute(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= since, *where)
        ).scalar()

    per_pair = count(LoginFailure.name == name, LoginFailure.ip == ip)
    per_ip = count(LoginFailure.ip == ip)
    if per_pair > MAX_PER_NAME_AND_IP or per_ip > MAX_PER_IP:
        return Verdict(False)
    return Verdict(True, delay_for(count(LoginFailure.name == name)))


def record_failure(session: Session, name: str, ip: str, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
    session.add(LoginFailure(name=name[:64], ip=ip[:64], at=now))
    session.commit()


def clear(session: Session, name: str, ip: str) -> None:
    """A successful login forgets that name's failures from that address."""
    session.execute(delete(LoginFailure).where(LoginFailure.name == name[:64], LoginFailure.ip == ip[:64]))
    session.commit()


def unlock(session: Session, name: str) -> None:
    """A supervisor forgets every failure for the name, from any address."""
    session.execute(delete(LoginFailure).where(LoginFailure.name == name[:64]))
    session.commit()
