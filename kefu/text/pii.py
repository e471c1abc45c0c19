"""Personal data out of the logs: phone numbers and addresses are masked in
every log line of every Kefu process (the record factory sees all loggers,
Rasa's and libraries' included)."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

PHONE = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
# 3栋2单元501, 12号楼803室, A座1506, 7-2-301 …: keep the building, hide the door.
ROOM = re.compile(r"(\d+|[A-Za-z])(栋|号楼|幢|座)(\d+单元)?(\d{2,5})(室|号)?")
DASHED_ROOM = re.compile(r"(?<![\d-])(\d{1,3})-(\d{1,2})-(\d{3,4})(?![\d-])")


def mask(text: str) -> str:
    text = PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = ROOM.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}***{m.group(5) or ''}", text)
    return DASHED_ROOM.sub(lambda m: f"{m.group(1)}-{m.group(2)}-***", text)


# Order, waybill and ID-card numbers: long digit runs (an ID card may end in X).
LONG_NUMBER = re.compile(r"(?<![0-9])([0-9]{4})[0-9]{6,}[0-9xX]?(?![0-9])")


def mask_stored(text: str) -> str:
    """`mask`, and long numbers (orders, waybills, ID cards) too: for texts
    kept for people to review, such as what the bot did not understand."""
    return LONG_NUMBER.sub(lambda m: f"{m.group(1)}******", mask(text))


def install() -> None:
    """Idempotent; call once at process start, before logging is busy."""
    base = logging.getLogRecordFactory()
    if getattr(base, "kefu_masks", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        with contextlib.suppress(Exception):  # a broken format string stays as logging would show it
            record.msg, record.args = mask(record.getMessage()), None
        return record

    factory.kefu_masks = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
