"""Scoring an NLU model on examples of {text, intent}: accuracy, macro-F1,
the confusion table and the errors (`kefu nlu-eval`, the retraining gate)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


@dataclass(frozen=True)
class EvalResult:
    accuracy: float
    macro_f1: float
    labels: list[str]
    matrix: list[list[int]]
    errors: list[tuple[str, str, str]]  # text, expected, predicted


def read_examples(path: Path) -> list[tuple[str, str]]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append((str(row["text"]), str(row["intent"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SystemExit(f'error: {path}:{number}: expected {{"text", "intent"}} ({exc})')
    if not examples:
        raise SystemExit(f"error: {path} has no examples")
    return examples


def score(expected: Sequence[str], predicted: Sequence[str], texts: Sequence[str]) -> EvalResult:
    # Macro-F1 over the intents the file asks about: a prediction of an intent
    # outside them (e.g. nlu_fallback) counts as a miss, not as a new class.
    gold_labels = sorted(set(expected))
    labels = gold_labels + sorted(set(predicted) - set(gold_labels))
    return EvalResult(
        accuracy=accuracy_score(expected, predicted),
        macro_f1=f1_score(expected, predicted, labels=gold_labels, average="macro", zero_division=0),
        labels=labels,
        matrix=confusion_matrix(expected, predicted, labels=labels).tolist(),
        errors=[(t, e, p) for t, e, p in zip(texts, expected, predicted, strict=True) if e != p],
    )


def rasa_parser(model_path: Path) -> Callable[[list[str]], list[str]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # Only the report on stdout: no per-message debug lines from Rasa.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    import jieba

    jieba.setLogLevel(logging.WARNING)

    agent = Agent.load(str(model_path))

    def parse(texts: list[str]) -> list[str]:
        async def run() -> list[str]:
            return [((await agent.parse_message(t)).get("intent") or {}).get("name") or "None" for t in texts]

        return asyncio.run(run())

    return parse


def evaluate(path: Path, parse: Callable[[list[str]], list[str]]) -> EvalResult:
    return evaluate_examples(read_examples(path), parse)


def evaluate_examples(examples: list[tuple[str, str]], parse: Callable[[list[str]], list[str]]) -> EvalResult:
    texts = [t for t, _ in examples]
    return score([i for _, i in examples], parse(texts), texts)
