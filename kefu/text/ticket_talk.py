"""How customers talk about a ticket they already have.

Pure wording checks shared by the NLU (bot.components.ticket_status_guard
makes a status question win over complaint/repair) and the actions (a
follow-up or a chase on an open ticket). Deliberately narrow: a message that
merely sounds unhappy ("退款十天了还没处理") stays a complaint; only words
that point at an existing request (进度, 工单, 我报修的…, 师傅什么时候到)
count here.
"""

from __future__ import annotations

import re

from kefu.text.entities import find_entities

_THING = r"(?:工单|报修|投诉|维修|单子|申请|反映的问题|问题)"
# The narrower words that name a request on their own ("问题", "维修" and
# "申请" also start new ones: "我的问题是…", "维修费", "申请停车位").
_REQUEST = r"(?:工单|报修|投诉|单子|维修单)"
_MINE = r"我(?:的|那个|之前的|刚才的|上次的|昨天的|前天的)"
_STATUS = re.compile(
    "|".join(
        (
            r"进度|进展",
            rf"{_THING}.{{0,10}}(?:怎么样了?|处理得|处理了[吗没]|处理好了[吗没]|有结果|有回复|有人(?:处理|跟进|管)|到哪|状态|什么情况|咋样)",
            # "查一下报修", "问下投诉情况"; not "检查维修", "问一下维修费".
            rf"(?<![检排调])(?:查|问)(?:一下|一查|下)?.{{0,4}}{_REQUEST}(?=[\s呢吧吗啊？?。！!]*$|.{{0,3}}(?:情况|结果|进度|状态|到哪|处理))",
            rf"^(?:{_MINE}{_THING}|{_THING}(?:呢|怎么样了?))[\s呢吗啊？?。！!]*$",
            r"有结果了[吗没]|有没有结果|有回复了[吗没]|有没有回复|处理得怎么样",
            # "我的报修…", not "我报修一下…" (a new one) or "我的问题是…".
            rf"{_MINE}{_REQUEST}(?!是|内容|如下)",
            r"还没(?:有)?人(?:来|处理|管|修|联系|上门|跟进)",
            r"(?:师傅|维修工|维修人员).{0,4}(?:什么时候|啥时候|几点)(?:能)?(?:来|到|上门)",
        )
    )
)
# "Nobody came yet": a nudge about a request that exists. With an open ticket
# it is added to that ticket; on an overdue one it is a 催单.
_CHASE = re.compile(
    r"还没(?:有)?人|怎么还没|咋还没|还没(?:来|到|上门|修|处理|联系|回复|回电|打电话)"
    r"|(?:师傅|维修工|工人|人).{0,4}(?:什么时候|啥时候|几点|多久)(?:能)?(?:来|到|上门)"
    r"|催一?下|催催|快点(?:来|处理|派人)|等了(?:很久|好久|半天|一天|一上午|一下午)"
)
# "补充一下…", "忘了说…": more about what the customer already reported.
_ADDITION = re.compile(
    r"^\s*(?:对了[，,\s]*)?(?:我)?(?:再|还要|想)?补充(?:一下|说明|几句|一点)?(?=[，,：:。！!\s])|忘了说|忘记说"
)
# Words of a complaint that names itself; those stay complaints even when
# they mention a repair nobody came for (the action then asks whether it is
# about the open ticket).
_EXPLICIT_COMPLAINT = re.compile(r"我要投诉|投诉你们|12315|消协|差评|曝光")


def ticket_numbers(text: str) -> list[str]:
    return [e.value for e in find_entities(text) if e.entity == "ticket_number"]


def is_chase(text: str) -> bool:
    return bool(_CHASE.search(text or ""))


def is_addition(text: str) -> bool:
    return bool(_ADDITION.search(text or ""))


def is_status_question(text: str) -> bool:
    """Whether the message asks about a ticket the customer already has."""
    text = (text or "").strip()
    entities = {e.entity for e in find_entities(text)}
    if "ticket_number" in entities:
        return True
    # "师傅什么时候到 订单号…" asks a shop about an order's installation.
    if "order_id" in entities:
        return False
    if _EXPLICIT_COMPLAINT.search(text):
        return False
    if is_addition(text):
        return True
    if _STATUS.search(text):
        # "房产证办理进度怎么查" asks how a procedure goes, not about a ticket.
        return not re.search(r"房产证|不动产|施工|工程|物流|快递|发货|退款", text) or bool(
            re.search(r"工单|报修|投诉", text)
        )
    return bool(re.search(r"报修|维修|修", text) and is_chase(text))


# A satisfaction score with a comment: "2分，师傅来得太慢", "5分 很满意 谢谢",
# "太慢了，给2分". Not "等了5分钟" or "2分钱".
_SCORED = re.compile(
    r"(?:^|[打给评]|[，,。；;！!\s])\s*([1-5])\s*(?:分|星)(?![钟钱])|^\s*([1-5])\s*[，,。；;！!、]+(?=\S)"
)


def score_with_comment(text: str) -> tuple[int, str] | None:
    """(score, comment) when the message gives a 1-5 score and says more."""
    text = (text or "").strip()
    found = _SCORED.search(text)
    if found is None:
        return None
    score = int(found.group(1) or found.group(2))
    comment = (text[: found.start()] + " " + text[found.end() :]).strip(" ，,。.；;！!、~")
    comment = re.sub(r"^(?:吧|了|啊)[，,。\s]*", "", comment).strip(" ，,。.；;！!、~")
    comment = re.sub(r"[，,]?\s*(?:打|给|评)$", "", comment).strip(" ，,。.；;！!、~")
    return (score, comment) if comment else None
