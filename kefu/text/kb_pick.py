"""Which of the questions the bot offered ("您是不是想问：1. … 2. …") a
customer's reply picks. Deliberately narrow, like kb_feedback: only a reply
that is nothing but the choice counts ("2" yes, "第二个" yes, the offered
question itself yes; "2号楼漏水" is a new message)."""

from __future__ import annotations

import re
from collections.abc import Sequence

NONE_OF_THEM = 0  # "都不是": none of the offered questions

_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_END = r"[\s啦了呀啊吧哈嗯哦个条!！。.~～]*$"
_NUMBER = re.compile(r"^(?:第|选)?\s*([1-5１-５一二两三四五])\s*(?:个|条|项|号)?(?:问题)?" + _END)
_NONE = re.compile(
    r"^(?:都不是|都不对|都没有|都不|没有我要问的|不是这些|不是|没有|以上都不是|其他问题|其它问题)" + _END
)
_PUNCTUATION = re.compile(r"[\s?？!！。.,，~～]+")


def _plain(text: str) -> str:
    return _PUNCTUATION.sub("", text)


def pick(text: str, offered: Sequence[str]) -> int | None:
    """1-based position of the offered question the reply picks, NONE_OF_THEM
    for "都不是", None when the reply is not a choice among them."""
    stripped = text.strip()
    number = _NUMBER.match(stripped)
    if number:
        digit = number.group(1)
        position = _NUMERALS.get(digit) or int(digit.translate(str.maketrans("１２３４５", "12345")))
        return position if position <= len(offered) else None
    if _NONE.match(stripped):
        return NONE_OF_THEM
    plain = _plain(stripped)
    for position, question in enumerate(offered, start=1):
        if plain and plain == _plain(question):
            return position
    return None
