"""`kefu nlu-eval FILE.jsonl`: intent accuracy, macro-F1 and a confusion table."""

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


def format_report(result: EvalResult, show_errors: int = 30) -> str:
    width = max(len(label) for label in result.labels) + 1
    short = [label[:7] for label in result.labels]
    lines = [
        f"accuracy  {result.accuracy:.4f}",
        f"macro-F1  {result.macro_f1:.4f}",
        "",
        "confusion (rows: expected, columns: predicted)",
        " " * width + " ".join(f"{s:>7}" for s in short),
    ]
    for label, row in zip(result.labels, result.matrix, strict=True):
        lines.append(f"{label:<{width}}" + " ".join(f"{n:>7}" for n in row))
    if result.errors:
        lines += ["", f"errors ({len(result.errors)}, first {min(show_errors, len(result.errors))}):"]
        lines += [f"  {e} -> {p}: {t}" for t, e, p in result.errors[:show_errors]]
    return "\n".join(lines)


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


def main(path: str, model: str | None) -> int:
    from kefu.core.settings import PROJECT_ROOT
    from kefu.runtime.supervisor import latest_model

    examples = read_examples(Path(path))  # a bad file fails before the slow model load
    model_path = Path(model) if model else latest_model(PROJECT_ROOT / "models")
    result = evaluate_examples(examples, rasa_parser(model_path))
    print(format_report(result))
    return 0
