"""极限词 are rewritten in every outgoing text; everyday phrases stay."""

from kefu.text.ad_law import check_outgoing, default_filter


def clean(text: str) -> str:
    return default_filter().clean(text)[0]


def test_banned_words_are_rewritten():
    assert clean("这是全网最低价，绝对正品，100%满意") == "这是优惠价，确实正品，尽力满意"
    assert clean("国家级顶级工艺，万能好用的极品") == "专业高品质工艺，多用途好用的精品"
    assert clean("销量第一的唯一选择") == "热销的专属选择"


def test_everyday_phrases_are_kept():
    text = "我们会第一时间处理，最近最迟明天回复，这是第一次出现，请到第一单元找我们"
    assert clean(text) == text


def test_changes_are_reported_and_logged(caplog):
    cleaned, changes = default_filter().clean("最好的服务")
    assert cleaned == "很好的服务"
    assert [(c.word, c.replacement) for c in changes] == [("最好", "很好")]
    with caplog.at_level("WARNING", logger="kefu.ad_law"):
        assert check_outgoing("顶级服务", "wechat", "wechat:o1") == "高品质服务"
    assert "顶级" in caplog.text and "wechat:o1" in caplog.text


def test_bot_scripts_need_no_rewrite():
    """Our own etiquette scripts already avoid 极限词."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    texts = [
        r["text"] for rs in yaml.safe_load((root / "bot" / "domain.yml").read_text())["responses"].values() for r in rs
    ]
    faq = yaml.safe_load((root / "actions" / "data" / "faq.yml").read_text())
    texts += [e["answer"] for section in faq.values() for e in section]
    # The starter knowledge (知识库) every installation begins with.
    from kefu.core.kb_files import BUSINESSES, STARTER_DIR, parse

    for business in BUSINESSES:
        rows, errors = parse((STARTER_DIR / f"{business}.csv").read_bytes())
        assert errors == []
        texts += [text for _line, e in rows for text in (e["answer"], *e["variants"].values())]
    assert [t for t in texts if default_filter().clean(t)[1]] == []
