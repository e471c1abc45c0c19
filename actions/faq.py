"""Picking a scripted answer for a message (inquiries and payment guides)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA_FILE = Path(__file__).resolve().parent / "data" / "faq.yml"


@dataclass(frozen=True)
class Answer:
    id: str
    words: tuple[str, ...]
    answer: str


def best_answer(answers: list[Answer], text: str) -> Answer | None:
    """The entry with the most matched characters; file order breaks ties."""
    lowered = text.lower()
    best, best_score = None, 0
    for entry in answers:
        score = sum(len(word) for word in entry.words if word.lower() in lowered)
        if score > best_score:
            best, best_score = entry, score
    return best


@lru_cache(maxsize=1)
def load_faq(path: Path = DATA_FILE) -> dict[str, list[Answer]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        section: [Answer(e["id"], tuple(e["words"]), e["answer"]) for e in entries] for section, entries in raw.items()
    }
