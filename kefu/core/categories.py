"""Ticket categories, their reply promise and repair urgency, from data/categories.yml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA_FILE = Path(__file__).resolve().parent / "data" / "categories.yml"


@dataclass(frozen=True)
class Category:
    name: str
    reply_hours: float
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class RepairRules:
    category: str
    urgent_callback_minutes: int
    normal_callback_minutes: int
    urgent_keywords: tuple[str, ...]


@dataclass(frozen=True)
class CategoryBook:
    categories: dict[str, Category]
    default: str
    repair: RepairRules

    def classify_complaint(self, text: str) -> str:
        """The category whose keywords occur most often; file order breaks ties."""
        best, best_hits = self.default, 0
        for category in self.categories.values():
            hits = sum(text.count(word) for word in category.keywords)
            if hits > best_hits:
                best, best_hits = category.name, hits
        return best

    def reply_hours(self, category: str) -> float:
        found = self.categories.get(category) or self.categories[self.default]
        return found.reply_hours

    def is_urgent_repair(self, text: str) -> bool:
        return any(word in text for word in self.repair.urgent_keywords)


def load_categories(path: Path = DATA_FILE) -> CategoryBook:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    categories = {
        name: Category(name, float(spec["reply_hours"]), tuple(spec.get("keywords") or ()))
        for name, spec in raw["categories"].items()
    }
    rep = raw["repair"]
    return CategoryBook(
        categories=categories,
        default=raw["default_category"],
        repair=RepairRules(
            category=rep["category"],
            urgent_callback_minutes=int(rep["urgent_callback_minutes"]),
            normal_callback_minutes=int(rep["normal_callback_minutes"]),
            urgent_keywords=tuple(rep["urgent_keywords"]),
        ),
    )


@lru_cache(maxsize=1)
def default_categories() -> CategoryBook:
    return load_categories()
