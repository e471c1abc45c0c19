"""Picking a scripted payment guide for a message (inquiries are answered
from the knowledge base: actions/knowledge.py).

An answer may differ per channel (the names Rasa records: socketio, rest,
wechat, wecom, taobao, tmall): `answer` is for every channel and names no
channel-specific place (公众号, 淘宝App …); `channels` holds the variants
that may, each shown only on its own channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).resolve().parent / "data" / "faq.yml"
# Channels Kefu records (Rasa's input channel names).
CHANNELS = ("socketio", "rest", "wechat", "wecom", "taobao", "tmall")


@dataclass(frozen=True)
class Answer:
    id: str
    words: tuple[str, ...]
    answer: str
    channels: dict[str, str] = field(default_factory=dict)

    def text_for(self, channel: str) -> str:
        return self.channels.get(channel, self.answer)


def best_answer(answers: list[Answer], text: str) -> Answer | None:
    """The entry with the most matched characters; file order breaks ties."""
    lowered = text.lower()
    best, best_score = None, 0
    for entry in answers:
        score = sum(len(word) for word in entry.words if word.lower() in lowered)
        if score > best_score:
            best, best_score = entry, score
    return best


def _answer(entry: dict[str, Any]) -> Answer:
    variants = dict(entry.get("channels") or {})
    unknown = set(variants) - set(CHANNELS)
    if unknown:
        raise ValueError(f"faq entry {entry['id']}: unknown channels {sorted(unknown)}")
    return Answer(entry["id"], tuple(entry.get("words") or ()), entry["answer"], variants)


@lru_cache(maxsize=1)
def load_faq(path: Path = DATA_FILE) -> dict[str, list[Answer]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {section: [_answer(e) for e in entries] for section, entries in raw.items()}


def answer_by_id(section: str, answer_id: str) -> Answer:
    return next(a for a in load_faq()[section] if a.id == answer_id)
