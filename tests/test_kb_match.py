"""Retrieval over the knowledge base's questions (kefu/text/kb_match.py):
paraphrases, homophone typos and short questions find their entry; a
question about something else scores low."""

from __future__ import annotations

from kefu.text.kb_match import KbIndex, normalize

ENTRIES = [
    (1, ["包邮吗？", "满多少包邮", "偏远地区包邮吗", "运费怎么算"]),
    (2, ["怎么退货？", "退货流程", "七天无理由退货怎么操作"]),
    (3, ["什么时候发货？", "多久发货", "下单后几天发出"]),
    (4, ["可以开发票吗？", "怎么开票", "能开增值税专用发票吗"]),
    (5, ["支持花呗分期吗？", "能用花呗吗", "可以分期付款吗"]),
    (6, ["是正品吗？", "保证正品吗", "是不是假货"]),
    (7, ["物业费怎么交？", "物业费在哪缴", "物业费缴费方式"]),
    (8, ["停车月卡怎么办理？", "办停车卡", "车位月租怎么办"]),
    (9, ["售楼处在哪里？", "售楼部地址", "去哪看房"]),
    (10, ["拍下后能改地址吗？", "怎么修改收货地址", "地址写错了能改吗"]),
]


def top(index: KbIndex, text: str) -> int | None:
    found = index.search(text, 1)
    return found[0].entry_id if found else None


def test_paraphrases_and_typos_find_their_entry():
    index = KbIndex(ENTRIES)
    assert top(index, "亲，这个包邮不") == 1
    assert top(index, "退获怎么退") == 2  # 退获: the input method's homophone of 退货
    assert top(index, "发或时间是多久") == 3
    assert top(index, "能开专票吗") == 4
    assert top(index, "可以用花被吗") == 5  # 花被 for 花呗
    assert top(index, "你们家是正品么") == 6
    assert top(index, "物业费交到哪里") == 7
    assert top(index, "地址填错了 还能改吗") == 10


def test_scores_are_ranked_and_bounded():
    index = KbIndex(ENTRIES)
    found = index.search("退货流程", 3)
    assert found[0].entry_id == 2 and found[0].score > 0.5
    assert all(0 <= m.score <= 1 for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_a_question_about_something_else_scores_low():
    index = KbIndex(ENTRIES)
    exact = index.search("怎么退货", 1)[0].score
    for other in ("今天天气怎么样", "给我讲个笑话", "1加1等于几"):
        found = index.search(other, 1)
        assert not found or found[0].score < exact / 2, (other, found)


def test_empty_index_and_empty_text():
    assert KbIndex([]).search("包邮吗") == []
    assert KbIndex(ENTRIES).search("") == []
    assert KbIndex(ENTRIES).search("？？？ 😀") == []


def test_normalize_drops_greetings_but_keeps_a_message_of_nothing_else():
    assert normalize("您好，请问包邮吗？") == "包邮吗"
    assert normalize("在吗") == "在吗"
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("亲子装有吗") == "亲子装有吗"


def test_words_customers_use_for_the_same_thing_meet_through_the_synonym_table(tmp_path, monkeypatch):
    from kefu.text import kb_match
    from kefu.text.kb_match import synonym_groups

    # 营销中心 shares no character with 售楼处: only the synonym group joins them.
    assert synonym_groups(normalize("营销中心在哪")) & synonym_groups(normalize("售楼处在哪里？"))
    assert not synonym_groups(normalize("今天天气不错"))
    entries = [(9, ["售楼处在哪里？"]), (11, ["市中心远吗"])]
    assert top(KbIndex(entries), "营销中心在哪") == 9
    with_table = KbIndex(entries).search("营销中心在哪", 1)[0].score

    empty = tmp_path / "none.yml"
    empty.write_text("[]", encoding="utf-8")
    monkeypatch.setattr(kb_match, "SYNONYMS_FILE", empty)
    kb_match._synonyms.cache_clear()
    try:
        assert top(KbIndex(entries), "营销中心在哪") == 11  # without it, the shared 中心 wins
        assert KbIndex(entries).search("营销中心在哪", 1)[0].score < with_table
    finally:
        monkeypatch.undo()
        kb_match._synonyms.cache_clear()
