"""The labelled 待学习 examples as training data for the next model, with a
fifth of the newly labelled ones held back to test it.

"Newly labelled" means labelled since the live model's training started:
older labels are already in the live model, so they go into training again,
and an example held back once is trained on the next time. Which fifth is
held back depends only on the texts (a hash), so running the same training
twice holds back the same examples.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from kefu.core.learning import Labelled

HOLD_BACK_EVERY = 5
LEARNED_FILE = "nlu/learned_from_desk.yml"
# Rasa reads [text](entity) in an example as an entity annotation, which a
# customer's brackets must not become; control characters break YAML.
_ANNOTATION = str.maketrans({"[": "［", "]": "］"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Split:
    train: list[tuple[str, str]]  # (text, intent)
    held_back: list[tuple[str, str]]


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def clean(text: str) -> str:
    return _CONTROL.sub(" ", text).translate(_ANNOTATION).strip()


def split(examples: Sequence[Labelled], live_since: datetime | None) -> Split:
    """live_since: when the live model's training started (None: no live
    model, nothing to compare with, so nothing is held back)."""
    latest: dict[str, Labelled] = {}
    for example in examples:  # oldest label first: a relabelled text keeps its newest intent
        text = clean(example.text)
        if text:
            latest[text] = example
    new = sorted(
        (t for t, e in latest.items() if live_since is not None and e.labelled_at >= live_since),
        key=_digest,
    )
    held = set(new[: len(new) // HOLD_BACK_EVERY])
    return Split(
        train=[(t, e.intent) for t, e in latest.items() if t not in held],
        held_back=[(t, latest[t].intent) for t in new if t in held],
    )


def nlu_yaml(examples: Sequence[tuple[str, str]]) -> str:
    """Rasa 3 NLU training data, one block per intent."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(text)
    blocks = [
        {"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)}
        for intent, texts in sorted(by_intent.items())
    ]
    return yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False)


def write_learned(data_dir: Path, examples: Sequence[tuple[str, str]]) -> Path | None:
    """Add the examples to a copy of the training data; None when there are none."""
    if not examples:
        return None
    path = data_dir / LEARNED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nlu_yaml(examples), encoding="utf-8")
    return path
