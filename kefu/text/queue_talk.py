"""What a customer waiting in the queue for an agent means by a message.

While the conversation waits the bot's NLU is paused: these few readings
are all the waiting room understands, and everything else is kept for the
agent. Deliberately narrow, like kb_pick: "取消" alone leaves the queue,
"取消订单" is a message for the agent; "留言" (or "留言：…", "我要留言")
leaves a message; a question about the wait gets the position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Reading(Enum):
    ask = "ask"  # 还有人在吗, 还要等多久: the position and the estimate
    cancel = "cancel"  # 不用了, 算了, 取消: leaves the queue
    leave = "leave"  # 留言: a ticket instead of the wait
    other = "other"  # kept for the agent


@dataclass(frozen=True)
class Heard:
    reading: Reading
    content: str = ""  # after 留言: the message itself, if given in the same line


_PUNCTUATION = re.compile(r"[\s?？!！。.,，、~～…:：;；\"“”'‘’()（）\[\]【】]+")
# Emoji and other symbols carry no meaning here.
_SYMBOLS = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]+")
_SOFT_END = r"(?:了|啦|吧|呀|啊|哈|哦|嘛|呢)*"
_CANCEL = re.compile(
    r"^(?:那)?(?:我)?(?:不用|不需要|不要|不找|不等|算|取消|退出|先不)"
    r"(?:了)?(?:人工|客服|转人工|排队|等了|等待|等)?" + _SOFT_END + r"(?:谢谢|谢了|再见|拜拜)?" + _SOFT_END + "$"
)
_LEAVE = re.compile(r"^(?:我)?(?:要|想)?(?:给你们)?(?:留个?言|留下?问题)")
_ASK = re.compile(
    r"(?:有人(?:吗|在|没|不|嘛|么|呢)|人呢|人在吗|在吗|在不在|在么|在嘛|"
    r"^(?:请问|大概|那|还|我|你好)*(?:还要|要|得|需要|还得|还有|有)?(?:再)?(?:等)?(?:多久|多长时间|几分钟)"
    + _SOFT_END
    + "$|"
    r"要等|还得等|等多|排到|第几|排第|前面还有|前面有几|"
    r"怎么还没|咋还没|还没人|没人理|没人回|没人管|怎么没人|快点|快一点|什么时候(?:能|才|会)?(?:有人|接|回))"
)
# "不用了，我自己解决了": the refusal first, then why.
_CANCEL_FIRST = re.compile(r"^\s*(?:那)?(?:不用了|算了|不等了|不需要了|取消排队)\s*[，,。.!！~～\s]")
_MAX_SHORT = 20  # a question about the wait is short; a long message is for the agent


def plain(text: str) -> str:
    return _PUNCTUATION.sub("", _SYMBOLS.sub("", text or ""))


def hear(text: str) -> Heard:
    """How the waiting room reads one message."""
    stripped = plain(text)
    if not stripped:
        return Heard(Reading.other)
    leave = _LEAVE.match(stripped)
    if leave:
        # "留言：电梯坏了" keeps the text after the colon as written.
        raw = (text or "").strip()
        rest = re.split(r"留个?言|留下?问题", raw, maxsplit=1)
        content = rest[1].lstrip(" :：,，。~～") if len(rest) > 1 else ""
        return Heard(Reading.leave, content.strip())
    if _CANCEL.match(stripped) or _CANCEL_FIRST.match(text or ""):
        return Heard(Reading.cancel)
    if len(stripped) <= _MAX_SHORT and _ASK.search(stripped):
        return Heard(Reading.ask)
    return Heard(Reading.other)
