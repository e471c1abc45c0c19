"""The customer's choice among "您是不是想问" (kefu/text/kb_pick.py): only a
reply that is nothing but the choice counts."""

from __future__ import annotations

import pytest

from kefu.text.kb_pick import NONE_OF_THEM, pick

OFFERED = ["怎么申请退货？退货地址是多少？", "有赠品吗？", "支持七天无理由退换货吗？"]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("1", 1),
        ("2", 2),
        (" 3 ", 3),
        ("２", 2),
        ("第二个", 2),
        ("第2个", 2),
        ("选3", 3),
        ("第一个吧", 1),
        ("3号问题", 3),
        ("二", 2),
        ("有赠品吗", 2),
        ("有赠品吗？", 2),
        ("都不是", NONE_OF_THEM),
        ("都不是啊", NONE_OF_THEM),
        ("以上都不是", NONE_OF_THEM),
        ("不是", NONE_OF_THEM),
    ],
)
def test_a_choice(text, position):
    assert pick(text, OFFERED) == position


@pytest.mark.parametrize(
    "text", ["4", "第五个", "2号楼漏水", "赠品呢", "退货地址", "", "12", "我要投诉", "不是这个问题，我问的是发票"]
)
def test_anything_else_is_not_a_choice(text):
    assert pick(text, OFFERED) is None


def test_a_number_beyond_the_offer_is_not_a_choice():
    assert pick("2", OFFERED[:1]) is None
    assert pick("1", OFFERED[:1]) == 1
