"""Emergencies: the data file, which messages report one (and which only look
like one), the first reply, and the NLU component, in this process. The
dialogue through the running stack is in tests/test_emergency_dialogue.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kefu.core.emergencies import DATA_FILE, EmergencyFileError, default_emergencies, load_emergencies
from kefu.core.settings import emergencies_file
from kefu.text.ad_law import default_filter

# Phrases a customer in a panic writes (none is copied from the file).
EMERGENCIES = {
    "电梯困人了！！快来人": "lift_entrapment",
    "救命 我被困在电梯里了": "lift_entrapment",
    "5号楼电梯卡住了 我女儿在里面出不来": "lift_entrapment",
    "电梯门打不开有人被困": "lift_entrapment",
    "着火了": "fire",
    "楼道里好大的烟 好像起火了": "fire",
    "隔壁阳台冒烟了 快来人": "fire",
    "家里煤气味很重": "gas_leak",
    "厨房天然气好像漏了": "gas_leak",
    "燃气管子在漏气 嘶嘶响": "gas_leak",
    "插座漏电 摸着麻手": "electric",
    "我爸刚才触电了": "electric",
    "配电箱在冒火花": "electric",
    "水管爆了 到处都是水": "burst_pipe",
    "暖气管裂开了 一直在喷水": "burst_pipe",
    "楼上漏水漏得很严重 整个天花板都在滴": "burst_pipe",
    "车库淹了": "burst_pipe",
    "小区门口有个老人晕倒了": "injury",
    "我妈在楼梯上摔倒了起不来": "injury",
    "外墙的瓷砖掉下来了 差点砸到人": "falling_objects",
    "12楼的空调外机要掉下来了": "falling_objects",
    "有人撬门 我一个人在家很害怕": "security",
}
# Ordinary messages with the same words.
ORDINARY = [
    "上次电梯坏了想投诉",
    "燃气费怎么交",
    "燃气费在物业交还是燃气公司交",
    "燃气灶打不着火了 帮忙修一下",
    "热水器打不着火 物业能派师傅吗",
    "上次电梯困人你们半小时才来，太慢了",
    "如果着火了应该从哪里逃生",
    "万一燃气泄漏怎么处理",
    "小区什么时候搞消防演练",
    "厨房没有煤气味了，谢谢师傅",
    "漏电开关老是跳闸",
    "卫生间的水龙头一直滴水",
    "楼上漏水到我家天花板了",
    "电梯什么时候年检",
    "电梯里的广告太吵了",
    "你们的火灾保险怎么买",
    "楼道里有人抽烟，烟味很大",
    "我要投诉保安态度差",
    "物业费在哪里交",
]


@pytest.mark.parametrize("text,kind", sorted(EMERGENCIES.items()))
def test_emergencies_are_recognised(text: str, kind: str):
    assert kind in [k.name for k in default_emergencies().detect(text)]


@pytest.mark.parametrize("text", ORDINARY)
def test_look_alikes_are_not_emergencies(text: str):
    assert default_emergencies().detect(text) == []


def test_several_at_once_give_every_advice_and_each_number_once():
    book = default_emergencies()
    kinds = book.detect("电线着火了 有人触电晕倒了")
    assert {k.name for k in kinds} == {"fire", "electric", "injury"}
    reply = book.first_reply(kinds, ticket="KF000001", promise="30分钟内")
    for kind in kinds:
        assert kind.advice in reply
    assert reply.count("120（急救）") == 1 and reply.count("119（火警）") == 1


def test_first_reply_is_advice_and_numbers_then_ticket_and_human_and_asks_nothing():
    book = default_emergencies()
    kinds = book.detect("电梯困人了！！快来人")
    reply = book.first_reply(kinds, ticket="KF000042", promise="30分钟内")
    advice = reply.index("不要强行扒门")
    assert advice < reply.index("电梯轿厢内张贴的应急救援电话") < reply.index("工单号：KF000042")
    assert "30分钟内" in reply and "人工客服" in reply
    assert "？" not in reply and "房号" not in reply and "地址" not in reply
    with_room = book.first_reply(kinds, ticket="KF000042", promise="30分钟内", room="3栋2单元501")
    assert "3栋2单元501" in with_room


def test_without_the_database_the_advice_and_numbers_still_go_out():
    book = default_emergencies()
    reply = book.first_reply(book.detect("家里煤气味很重"), ticket=None, promise="30分钟内")
    assert "关闭燃气总阀" in reply and "119" in reply and "工单号" not in reply


def test_the_shipped_advice_never_hurts():
    """The rules of 安全第一 the shipped file must keep."""
    advice = {k.name: k.advice for k in default_emergencies().kinds}
    assert "不要开关任何电器" in advice["gas_leak"] and "不要在室内打电话" in advice["gas_leak"]
    assert "离开室内" in advice["gas_leak"]
    assert "119" in advice["fire"] and "不要乘坐电梯" in advice["fire"]
    assert "不要强行扒门" in advice["lift_entrapment"]
    assert "不要触碰" in advice["electric"] and "确保自身安全" in advice["electric"]
    assert "总水阀" in advice["burst_pipe"]
    assert "120" in advice["injury"]


def test_the_file_needs_no_advertising_law_rewrite():
    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    book = default_emergencies()
    texts = [k.advice for k in book.kinds] + [k.label for k in book.kinds] + list(book.numbers.values())
    texts += [str(v) for v in raw["reply"].values()]
    assert [t for t in texts if default_filter().clean(t)[1]] == []


def test_kefu_emergencies_file_points_to_another_file(tmp_path: Path):
    assert emergencies_file({}) == DATA_FILE
    own = tmp_path / "ours.yml"
    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    raw["kinds"].append(
        {
            "name": "flood",
            "label": "小区内涝",
            "words": ["内涝"],
            "advice": "请不要进入积水区域。",
            "numbers": ["property"],
        }
    )
    raw["numbers"]["property"] = "物业值班电话 0571-12345678"
    own.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert emergencies_file({"KEFU_EMERGENCIES_FILE": str(own)}) == own
    book = load_emergencies(own)
    [kind] = book.detect("小区门口内涝了")
    reply = book.first_reply([kind], ticket="KF000001", promise="30分钟内")
    assert "请不要进入积水区域" in reply and "0571-12345678" in reply


@pytest.mark.parametrize(
    "change,problem",
    [
        (lambda raw: raw["kinds"][0].update(patterns=["电梯(困"]), "not a regular expression"),
        (lambda raw: raw["kinds"][0].update(numbers=["lift", "nowhere"]), "not in numbers"),
        (lambda raw: raw["reply"].update(ticket="工单号：{number}"), "placeholder"),
        (lambda raw: raw["kinds"][1].update(advice=""), "advice"),
        (lambda raw: raw["kinds"][1].update(name=raw["kinds"][0]["name"]), "repeated"),
        (lambda raw: raw.pop("reply"), "reply"),
    ],
)
def test_a_broken_file_is_refused_with_its_name_and_the_problem(tmp_path: Path, change, problem: str):
    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    change(raw)
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(EmergencyFileError) as refused:
        load_emergencies(broken)
    assert str(broken) in str(refused.value) and problem in str(refused.value)


def test_not_yaml_is_refused(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("kinds: [unclosed", encoding="utf-8")
    with pytest.raises(EmergencyFileError):
        load_emergencies(broken)
    with pytest.raises(EmergencyFileError):
        load_emergencies(tmp_path / "missing.yml")


def test_nlu_component_makes_emergencies_win_and_leaves_the_rest():
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.components.emergency_detector import EmergencyDetector

    ranking = [{"name": "repair", "confidence": 0.7}, {"name": "complaint", "confidence": 0.2}]
    panic = Message({TEXT: "电梯困人了！！快来人", INTENT: ranking[0], INTENT_RANKING_KEY: list(ranking)})
    calm = Message({TEXT: "上次电梯坏了想投诉", INTENT: ranking[1], INTENT_RANKING_KEY: list(ranking)})
    EmergencyDetector(default_emergencies()).process([panic, calm])
    assert panic.get(INTENT) == {"name": "emergency", "confidence": 1.0}
    assert [r["name"] for r in panic.get(INTENT_RANKING_KEY)] == ["emergency", "repair", "complaint"]
    assert calm.get(INTENT) == ranking[1] and calm.get(INTENT_RANKING_KEY) == ranking


def test_check_command_names_the_kinds(capsys):
    from kefu.core.emergencies import main

    assert main(["电梯困人了", "燃气费怎么交"]) == 0
    out = capsys.readouterr().out
    assert "电梯困人了 → 电梯困人" in out and "燃气费怎么交 → 不是紧急情况" in out
