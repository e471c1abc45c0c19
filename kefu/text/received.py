"""Checks every entry point applies to text it receives (core: imports nothing of ours).

JSON may carry `"\\udfff"`, a lone surrogate: valid JSON, but not a
character, and anything that later encodes it (SQLite, a log line, an HTTP
reply) raises UnicodeEncodeError far from the request that brought it. One
check at the door, the same on every channel, the desk and the CLIs, turns
that into a clear 400 instead of a crash.
"""

from __future__ import annotations

import json
from typing import Any

# The same limit on every channel (REST, socket.io, WeChat, WeCom, Taobao/Tmall).
MAX_TEXT_CHARS = 5000
# Metadata rides along with a message and is stored with it in the tracker.
MAX_METADATA_BYTES = 16 * 1024
# Deeper JSON than any real client sends; bounded so a parser or a walk
# over it can never exhaust the stack.
MAX_JSON_DEPTH = 32
TOO_LONG_REPLY = f"抱歉，单条消息最多{MAX_TEXT_CHARS}字，请您分几条发送。"
# For a channel that answers the customer rather than the caller (socket.io,
# WeCom): the text arrived but is not readable text.
INVALID_TEXT_REPLY = "抱歉，这条消息里有无法识别的字符，请您重新输入后再发送。"
# Ids are INTEGER columns: 32-bit on PostgreSQL, so a larger number names no
# row and would make the database raise instead of finding nothing.
MAX_ID = 2**31 - 1


class InvalidInput(ValueError):
    """Input that is refused with a 400 (or the channel's own refusal)."""


def is_valid_text(value: str) -> bool:
    """True when value is real Unicode text (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, field: str) -> str:
    if not is_valid_text(value):
        raise InvalidInput(f"'{field}' is not valid UTF-8 text")
    return value


def whole_number(value: str, field: str, low: int = 1, high: int = MAX_ID) -> int:
    """An id or count sent as text (a path or query parameter)."""
    # ASCII digits only: str.isdigit() also accepts '²' and '١', which int() refuses or reads.
    # The length first: int() refuses strings of more than 4300 digits with a ValueError.
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(high)) + 8 or not low <= int(value) <= high:
        raise InvalidInput(f"'{field}' must be a whole number from {low} to {high}")
    return int(value)


def decode_utf8(raw: bytes, field: str = "body") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{field} is not valid UTF-8") from None


def check_json_value(value: Any, field: str = "body", depth: int = 0) -> Any:
    """Every string (keys too) valid text, nesting at most MAX_JSON_DEPTH."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, field)
            check_json_value(item, field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, field, depth + 1)
    return value


def parse_json(raw: bytes, field: str = "body") -> Any:
    """Strict UTF-8 JSON, every string valid text, bounded nesting."""
    text = decode_utf8(raw or b"", field)
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise InvalidInput(f"{field} must be JSON") from None
    return check_json_value(value, field)


def check_metadata(metadata: Any, field: str = "metadata") -> Any:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InvalidInput(f"'{field}' must be an object")
    check_json_value(metadata, field)
    size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(f"'{field}' is larger than {MAX_METADATA_BYTES // 1024} KiB")
    return metadata
