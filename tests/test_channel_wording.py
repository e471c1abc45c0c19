"""Answers fit the customer's channel: a text never points a customer to a
channel they are not on (no 「本公众号」 on the web widget, no 淘宝App for a
property owner on WeChat)."""

from __future__ import annotations

import ast
import asyncio

import pytest
import yaml

from actions.faq import CHANNELS, answer_by_id, load_faq
from actions.orders import SHOP_CHANNELS, order_answer
from actions.turn import Turn
from tests.support.socketio_turns import socketio_say
from tests.support.stack import ROOT, Stack, new_sender
from tests.support.taobao import new_buyer
from tests.support.taobao import say as taobao_say
from tests.support.wechat import new_openid, post, text_xml

# Words that name a place only some channels have, and those channels.
CHANNEL_WORDS: dict[str, frozenset[str]] = {
    "公众号": frozenset({"wechat"}),
    "服务号": frozenset({"wechat"}),
    "小程序": frozenset({"wechat"}),
    "企业微信": frozenset({"wecom"}),
    "微信": frozenset({"wechat", "wecom"}),
    "淘宝": frozenset(SHOP_CHANNELS),
    "天猫": frozenset(SHOP_CHANNELS),
    "旺旺": frozenset(SHOP_CHANNELS),
    "千牛": frozenset(SHOP_CHANNELS),
    "花呗": frozenset(SHOP_CHANNELS),
    "App": frozenset(SHOP_CHANNELS),
}


def foreign_words(text: str, channel: str) -> list[str]:
    return [word for word, allowed in CHANNEL_WORDS.items() if word in text and channel not in allowed]


def test_the_word_check_catches_the_old_answers():
    assert foreign_words("可以通过本公众号「生活缴费」在线缴纳", "socketio") == ["公众号"]
    assert foreign_words("在淘宝/天猫App「我的订单」里查看物流", "wechat") == ["淘宝", "天猫", "App"]
    assert foreign_words("可以通过本公众号「生活缴费」在线缴纳", "wechat") == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_faq_answer_fits_every_channel(channel: str):
    for section, answers in load_faq().items():
        for answer in answers:
            text = answer.text_for(channel)
            assert foreign_words(text, channel) == [], (section, answer.id, channel, text)


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_starter_knowledge_answer_fits_every_channel(channel: str):
    from kefu.core.kb_files import BUSINESSES, STARTER_DIR, parse

    for business in BUSINESSES:
        rows, errors = parse((STARTER_DIR / f"{business}.csv").read_bytes())
        assert errors == [], (business, errors)
        for _line, entry in rows:
            text = entry["variants"].get(channel, entry["answer"])
            assert foreign_words(text, channel) == [], (business, entry["question"], channel, text)


def test_default_answers_name_no_channel_specific_place():
    for answers in load_faq().values():
        for answer in answers:
            assert [w for w in CHANNEL_WORDS if w in answer.answer] == [], answer.id


@pytest.mark.parametrize("channel", CHANNELS)
def test_reminder_templates_fit_their_channel(channel: str):
    policies = yaml.safe_load((ROOT / "kefu" / "reminders" / "data" / "reminder_policies.yml").read_text())
    for section in ("orders", "bills"):
        template = policies[section]["default"]["templates"].get(channel)
        if template:
            assert foreign_words(template, channel) == [], (section, channel, template)


def test_domain_responses_name_no_channel_specific_place():
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text())
    for name, variants in domain["responses"].items():
        for variant in variants:
            assert [w for w in CHANNEL_WORDS if w in variant.get("text", "")] == [], name


def test_texts_in_the_actions_name_a_channel_only_where_only_that_channel_sees_them():
    """orders.py speaks only to Taobao/Tmall buyers (see the next test); any
    other action text goes to every channel."""
    for path in sorted((ROOT / "actions").glob("*.py")):
        if path.name == "orders.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert [w for w in CHANNEL_WORDS if w in node.value] == [], (path.name, node.value)


@pytest.mark.parametrize("channel", [c for c in CHANNELS if c not in SHOP_CHANNELS])
def test_order_answers_are_only_for_shop_channels(channel: str):
    turn = Turn(
        channel=channel,
        customer_id="x",
        message_id="m",
        text="订单 123456789012345678",
        intent="inquiry",
        order_id="123456789012345678",
    )
    assert asyncio.run(order_answer(turn)) is None


def test_the_general_payment_guide_has_variants_for_the_channels_that_have_their_own_place():
    guide = answer_by_id("payment", "general")
    assert "公众号" in guide.text_for("wechat") and "淘宝" in guide.text_for("taobao")


# -- through the running stack ---------------------------------------------------


def test_property_fee_on_the_widget_mentions_no_official_account(stack: Stack):
    text = "\n".join(socketio_say(stack, "物业费在哪里交啊"))
    assert "物业服务中心" in text, text
    assert foreign_words(text, "socketio") == [], text


def test_property_fee_on_wechat_may_point_to_the_official_account(stack: Stack):
    status, reply = post(stack, text_xml(new_openid(), "物业费在哪里交啊"))
    assert status == 200
    assert "本公众号「生活缴费」" in reply["Content"], reply


def test_logistics_answer_on_the_widget_and_wechat_mentions_no_taobao_app(stack: Stack):
    widget = "\n".join(socketio_say(stack, "我的快递到哪了，物流怎么查"))
    assert "查看物流" in widget and foreign_words(widget, "socketio") == [], widget
    status, reply = post(stack, text_xml(new_openid(), "我的快递到哪了，物流怎么查"))
    assert status == 200 and "查看物流" in reply["Content"], reply
    assert foreign_words(reply["Content"], "wechat") == [], reply


def test_logistics_answer_on_rest_mentions_no_channel(stack: Stack):
    text = "\n".join(stack.say(new_sender(), "我的快递到哪了，物流怎么查"))
    assert "查看物流" in text and foreign_words(text, "rest") == [], text


def test_logistics_answer_on_taobao_names_the_taobao_app(stack: Stack, top_api):
    buyer = new_buyer()
    status, body = taobao_say(stack, buyer, "我的快递到哪了，物流怎么查")
    assert status == 200, body
    [sent] = [m["content"] for m in top_api.sent_to(buyer)]
    assert "淘宝" in sent and foreign_words(sent, "taobao") == [], sent
