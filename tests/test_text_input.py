"""The input checks every entry point shares (kefu/text/received.py)."""

from __future__ import annotations

import json

import pytest

from kefu.text.received import (
    MAX_JSON_DEPTH,
    MAX_METADATA_BYTES,
    InvalidInput,
    check_json_value,
    check_metadata,
    check_text,
    parse_json,
)


def test_lone_surrogate_in_valid_json_is_refused():
    raw = b'{"sender": "\\udfff", "message": "hi"}'
    assert json.loads(raw)["sender"] == "\udfff"  # the JSON itself is valid
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        parse_json(raw)


def test_surrogate_in_a_key_or_deep_value_is_refused():
    with pytest.raises(InvalidInput):
        check_json_value({"a": [{"\ud800": 1}]})
    with pytest.raises(InvalidInput):
        check_json_value({"a": ["ok", {"b": "x\udc00"}]})


def test_invalid_utf8_bytes_are_refused():
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        parse_json(b'{"message": "\xff\xfe"}')


def test_deep_nesting_is_refused_without_recursion_error():
    with pytest.raises(InvalidInput, match="nested"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidInput, match="nested"):
        parse_json(
            json.dumps([[[[]]]] * 1)
            .encode()
            .replace(b"[[[[]]]]", b"[" * (MAX_JSON_DEPTH + 2) + b"]" * (MAX_JSON_DEPTH + 2))
        )


def test_real_chinese_emoji_and_mixed_text_pass():
    for text in ("卫生间漏水了", "亲，在吗😀", "order 123 还没发货", "小明2026"):
        assert check_text(text, "message") == text
    assert parse_json('{"sender": "中文客户", "message": "在吗🙂"}'.encode()) == {
        "sender": "中文客户",
        "message": "在吗🙂",
    }


def test_metadata_must_be_a_small_object():
    assert check_metadata(None) is None
    assert check_metadata({"page": "/商品/1"}) == {"page": "/商品/1"}
    with pytest.raises(InvalidInput, match="object"):
        check_metadata(["x"])
    with pytest.raises(InvalidInput, match="KiB"):
        check_metadata({"blob": "x" * (MAX_METADATA_BYTES + 1)})


def test_whole_numbers_are_ascii_digits_within_range():
    from kefu.text.received import MAX_ID, whole_number

    assert whole_number("42", "id") == 42 and whole_number(str(MAX_ID), "id") == MAX_ID
    for bad in ("", "0", "-1", "+1", " 1", "1.0", "1e3", "²", "١٢", "１２", str(MAX_ID + 1), str(2**63), "9" * 5000):
        with pytest.raises(InvalidInput, match="'id' must be a whole number"):
            whole_number(bad, "id")
    assert whole_number("1000", "limit", 1, 1000) == 1000
