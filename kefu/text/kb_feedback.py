"""Whether a customer's short reply to "这个回答解决您的问题了吗？" says the
answer helped. Deliberately narrow: only a reply that is nothing but the
verdict counts ("没解决" yes; "问题一直没解决，我要投诉" is a complaint)."""

from __future__ import annotations

import re

_END = r"[\s啦了呀啊哈嗯哦!！。.~～👍🙏]*$"
HELPED = re.compile(
    r"^(?:(?:已经?|都)?解决(?:了|啦)|有用|有帮助|明白了?|懂了|知道了|清楚了|好的?(?:[,，\s]*谢谢)?|谢谢|ok|可以了)"
    + _END,
    re.IGNORECASE,
)
NOT_HELPED = re.compile(
    r"^(?:没(?:有)?解决|未解决|没用|没有用|没(?:有)?帮助|不对|不是这个|答非所问|还是不行|不行|没看懂|不明白)" + _END
)


def verdict(text: str) -> bool | None:
    """True: it helped; False: it did not; None: not an answer to the question."""
    stripped = text.strip()
    if NOT_HELPED.match(stripped):
        return False
    if HELPED.match(stripped):
        return True
    return None
