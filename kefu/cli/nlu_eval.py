"""`kefu nlu-eval FILE.jsonl`: intent accuracy, macro-F1 and a confusion table."""

from __future__ import annotations

from pathlib import Path

from kefu.runtime.nlu_scoring import EvalResult, evaluate_examples, rasa_parser, read_examples


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


def main(path: str, model: str | None) -> int:
    from kefu.core.settings import load_model_settings
    from kefu.runtime.live_model import resolve

    examples = read_examples(Path(path))  # a bad file fails before the slow model load
    model_path = Path(model) if model else resolve(load_model_settings())
    result = evaluate_examples(examples, rasa_parser(model_path))
    print(format_report(result))
    return 0
