"""The advertising-law (极限词) check every outgoing text passes."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DATA_FILE = Path(__file__).resolve().parent / "data" / "ad_words.yml"
logger = logging.getLogger("kefu.ad_law")


@dataclass(frozen=True)
class Change:
    word: str
    replacement: str


@dataclass(frozen=True)
class AdWordFilter:
    replacements: dict[str, str]
    allowed: tuple[str, ...]
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One alternation, longest first: an allowed phrase is consumed before
        # any banned word inside it can match; "最低价" wins over "最".
        terms = sorted({*self.replacements, *self.allowed}, key=len, reverse=True)
        object.__setattr__(self, "_pattern", re.compile("|".join(map(re.escape, terms))))

    def clean(self, text: str) -> tuple[str, list[Change]]:
        changes: list[Change] = []

        def swap(match: re.Match[str]) -> str:
            found = match.group(0)
            if found in self.allowed:
                return found
            replacement = self.replacements[found]
            changes.append(Change(found, replacement))
            return replacement

        cleaned = self._pattern.sub(swap, text)
        return cleaned, changes


def load_filter(path: Path = DATA_FILE) -> AdWordFilter:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return AdWordFilter(
        {str(k): str(v) for k, v in raw["replace"].items()}, tuple(str(a) for a in raw.get("allow") or ())
    )


@lru_cache(maxsize=1)
def default_filter() -> AdWordFilter:
    return load_filter()


def check_outgoing(text: str, channel: str, customer_id: str) -> str:
    """The text as it may be sent; every rewrite is logged for supervisors."""
    cleaned, changes = default_filter().clean(text)
    for change in changes:
        logger.warning("ad-law rewrite on %s to %s: %r -> %r", channel, customer_id, change.word, change.replacement)
    return cleaned
