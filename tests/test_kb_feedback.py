"""The customer's verdict on a knowledge-base answer (kefu/text/kb_feedback.py):
only a reply that is nothing but the verdict counts."""

from __future__ import annotations

import pytest

from kefu.text.kb_feedback import verdict


@pytest.mark.parametrize("text", ["解决了", "已经解决了", "有用", "明白了👍", "好的，谢谢", "OK", "懂了哈"])
def test_helped(text):
    assert verdict(text) is True


@pytest.mark.parametrize("text", ["没解决", "没有解决啊", "没用", "不对", "答非所问", "还是不行！", "没看懂"])
def test_not_helped(text):
    assert verdict(text) is False


@pytest.mark.parametrize(
    "text", ["问题一直没解决，我要投诉", "还是不知道怎么弄", "包邮吗", "", "解决了吗", "不对吧 我买的是XL码"]
)
def test_anything_else_is_not_a_verdict(text):
    assert verdict(text) is None
