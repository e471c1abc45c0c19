"""Failed desk logins: too many for one name or from one address -> wait.

Guessing passwords gets 5 tries per name and 20 per address in 15 minutes.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from desk.models import LoginFailure

WINDOW = timedelta(minutes=15)
MAX_PER_NAME = 5
MAX_PER_IP = 20


def admit(session: Session, name: str, ip: str, now: datetime) -> bool:
    """Count this attempt as a failure up front (a success clears it); False
    when the name or the address has used up its tries."""
    record_failure(session, name, ip, now)
    since = now - WINDOW
    per_name = session.execute(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.name == name[:64], LoginFailure.at >= since)).scalar()
    per_ip = session.execute(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.ip == ip[:64], LoginFailure.at >= since)).scalar()
    return per_name <= MAX_PER_NAME and per_ip <= MAX_PER_IP


def record_failure(session: Session, name: str, ip: str, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
    session.add(LoginFailure(name=name[:64], ip=ip[:64], at=now))
    session.commit()


def clear(session: Session, name: str) -> None:
    """A successful login forgets that name's failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.name == name[:64]))
    session.commit()
