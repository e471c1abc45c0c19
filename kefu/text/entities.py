"""Entity patterns for order numbers, mainland mobile phones, room numbers
and our own ticket numbers (KF000007).

Pure functions without Rasa imports, so the NLU component and the action
server (form validation) share one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Customers write phones as 13812345678, 138 1234 5678, 138-1234-5678,
# +86 138..., (86)138..., and full-width digits/punctuation arrive too.
_PHONE = re.compile(
    r"(?<![0-9])"
    r"(?:(?:\+|00)?86[\s\-]*|[(（]\+?86[)）][\s\-]*)?"
    r"(1[3-9][0-9](?:[\s\-]?[0-9]){8})"
    r"(?![0-9])"
)

# Taobao/Tmall order numbers are 18-19 digits; other shops use 12-20.
_ORDER = re.compile(r"(?<![0-9])([0-9]{12,20})(?![0-9])")

_CN_NUM = "一二三四五六七八九十"
_BUILDING = rf"(?:[A-Za-z]|[0-9]{{1,3}}|[{_CN_NUM}]{{1,3}})(?:栋|幢|号楼|座|号院)"
_UNIT = rf"(?:[0-9]{{1,2}}|[{_CN_NUM}]{{1,3}})单元"
_FLOOR = r"[0-9]{1,2}(?:层|楼)"
_ROOM_NO = r"[0-9]{3,4}(?:室|号|房)?"
_SEP = r"[\s\-]?"
_ROOM = re.compile(
    r"(?<![A-Za-z0-9])("
    rf"{_BUILDING}{_SEP}(?:{_UNIT}{_SEP})?(?:{_FLOOR}{_SEP})?{_ROOM_NO}"
    rf"|{_UNIT}{_SEP}(?:{_FLOOR}{_SEP})?{_ROOM_NO}"
    r"|[0-9]{1,3}-[0-9]{1,2}-[0-9]{3,4}(?:室|号)?"
    r")(?![0-9])"
)

# Ticket numbers as customers retype them: kf000007, KF 000007, KF-7, ＫＦ０００００７.
_TICKET = re.compile(r"(?<![A-Za-z0-9])([Kk][Ff])[\s\-#:：]{0,2}([0-9]{1,10})(?![0-9])")

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋－（）　ＫＦｋｆ：", "0123456789+-() KFkf:")


@dataclass(frozen=True)
class Entity:
    entity: str
    start: int
    end: int
    value: str


def to_halfwidth(text: str) -> str:
    """Full-width digits and signs map one-to-one, so offsets stay valid."""
    return text.translate(_FULLWIDTH)


def normalize_phone(raw: str) -> str | None:
    """Return the 11-digit mobile number in `raw`, or None if there is none."""
    match = _PHONE.search(to_halfwidth(raw))
    if not match:
        return None
    return re.sub(r"[^0-9]", "", match.group(1))


def normalize_ticket_number(digits: str) -> str:
    """The number as we print it (kefu.core.tickets.ticket_number): KF + 6+ digits."""
    return f"KF{int(digits):06d}"


def ticket_id_of(number: str) -> int | None:
    """The ticket id a normalised number names, or None."""
    found = re.fullmatch(r"KF([0-9]{1,10})", number or "")
    return int(found.group(1)) if found else None


def find_entities(text: str) -> list[Entity]:
    text_hw = to_halfwidth(text)
    found: list[Entity] = []
    taken: list[range] = []

    def overlaps(start: int, end: int) -> bool:
        return any(start < r.stop and r.start < end for r in taken)

    for match in _TICKET.finditer(text_hw):
        found.append(Entity("ticket_number", match.start(), match.end(), normalize_ticket_number(match.group(2))))
        taken.append(range(match.start(), match.end()))
    for match in _PHONE.finditer(text_hw):
        if overlaps(match.start(), match.end()):
            continue
        value = re.sub(r"[^0-9]", "", match.group(1))
        found.append(Entity("phone", match.start(), match.end(), value))
        taken.append(range(match.start(), match.end()))
    for match in _ORDER.finditer(text_hw):
        if not overlaps(match.start(1), match.end(1)):
            found.append(Entity("order_id", match.start(1), match.end(1), match.group(1)))
            taken.append(range(match.start(1), match.end(1)))
    for match in _ROOM.finditer(text_hw):
        if not overlaps(match.start(1), match.end(1)):
            # The value keeps the customer's own characters (e.g. full-width).
            found.append(Entity("room", match.start(1), match.end(1), text[match.start(1) : match.end(1)]))
    return sorted(found, key=lambda e: e.start)
