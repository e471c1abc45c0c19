"""NLU quality on held-out messages the model was never trained on."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from kefu.cli.nlu_eval import format_report
from kefu.runtime.nlu_scoring import evaluate, read_examples, score
from tests.support.stack import DATA, ROOT, Stack

HELDOUT = DATA / "nlu_heldout.jsonl"
ENTITIES = DATA / "entities_heldout.jsonl"
# Off-topic requests (weather, news, jokes, sums, 发短信给…, songs, trivia …) and
# customer messages that merely mention such words, with their business intent.
OUT_OF_SCOPE = DATA / "out_of_scope_heldout.jsonl"
CORE = ("inquiry", "complaint", "repair", "payment_reminder")


def normalised(text: str) -> str:
    """The message as the model effectively sees it: full-width folded (NFKC), lower case,
    letters and digits only (punctuation, spaces, emoji and variation selectors dropped).
    "差评!!!" and "差评！" are the same training example."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def training_texts() -> set:
    import yaml

    texts = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for line in block.get("examples", "").splitlines():
                texts.add(normalised(line.strip()[2:].strip()))
    return texts


def test_normalised_ignores_punctuation_spaces_emoji_and_width():
    assert normalised("差评!!!") == normalised("差评！") == "差评"
    assert normalised("人工 人工 人工") == normalised("人工人工人工")
    assert normalised("byebye👋") == normalised("ＢｙｅＢｙｅ") == "byebye"
    assert normalised("谢谢❤️～") == "谢谢"


def test_heldout_file_is_large_and_never_trained_on():
    examples = read_examples(HELDOUT)
    assert len(examples) >= 200
    trained = training_texts()
    overlap = {t for t, _ in examples if normalised(t) in trained}
    assert overlap == set(), f"held-out messages found in training data: {sorted(overlap)[:5]}"


def test_out_of_scope_file_is_large_and_never_trained_on():
    examples = read_examples(OUT_OF_SCOPE)
    off_topic = [t for t, intent in examples if intent == "out_of_scope"]
    in_scope = [t for t, intent in examples if intent in CORE]
    assert len(off_topic) >= 80 and len(in_scope) >= 40, (len(off_topic), len(in_scope))
    trained = training_texts()
    overlap = {t for t, _ in examples if normalised(t) in trained}
    assert overlap == set(), f"held-out messages found in training data: {sorted(overlap)[:5]}"


def test_training_data_has_sixty_examples_per_core_intent():
    import yaml

    counts = {}
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" in block:
                lines = [line for line in block["examples"].splitlines() if line.strip()]
                counts[block["intent"]] = counts.get(block["intent"], 0) + len(lines)
    for intent in CORE:
        assert counts.get(intent, 0) >= 60, (intent, counts.get(intent))


def test_intent_accuracy_and_macro_f1_on_heldout(stack: Stack):
    result = evaluate(HELDOUT, lambda texts: [stack.parse(t)["intent"]["name"] for t in texts])
    print(format_report(result))
    assert result.accuracy >= 0.97, format_report(result)
    assert result.macro_f1 >= 0.97, format_report(result)


def test_off_topic_requests_are_never_taken_for_business(stack: Stack):
    """Weather, news, a joke, "给我妈发条短信…" open no ticket and send no payment
    guide; "短信说我欠费了" or "下雨天地库漏水了" still do."""
    result = evaluate(OUT_OF_SCOPE, lambda texts: [stack.parse(t)["intent"]["name"] for t in texts])
    print(format_report(result))
    taken = [
        (text, predicted)
        for text, expected, predicted in result.errors
        if expected == "out_of_scope" and predicted in CORE
    ]
    assert taken == [], taken
    assert result.accuracy >= 0.95, format_report(result)


def test_entity_exact_value_recall_on_heldout(stack: Stack):
    expected = found = 0
    misses = []
    for line in ENTITIES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        got = {(e["entity"], e["value"]) for e in stack.parse(row["text"])["entities"]}
        for name, value in row["entities"].items():
            expected += 1
            if (name, value) in got:
                found += 1
            else:
                misses.append((name, value, row["text"]))
    assert expected >= 150
    assert found / expected >= 0.95, misses[:10]


def test_score_counts_fallback_as_a_miss():
    result = score(["repair", "complaint", "repair"], ["repair", "nlu_fallback", "complaint"], ["a", "b", "c"])
    assert result.accuracy == pytest.approx(1 / 3)
    assert "nlu_fallback" in result.labels
    # repair: P=1/2... precision 1/2? predicted repair once (correct) -> P=1, R=1/2, F1=2/3; complaint F1=0
    assert result.macro_f1 == pytest.approx((2 / 3 + 0) / 2)


@pytest.mark.e2e  # the trained model
def test_nlu_eval_command_prints_metrics(tmp_path: Path):
    sample = tmp_path / "sample.jsonl"
    rows = [
        {"text": "你好", "intent": "greet"},
        {"text": "卫生间漏水了快来修", "intent": "repair"},
        {"text": "物业费怎么交", "intent": "payment_reminder"},
    ]
    sample.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "nlu-eval", str(sample)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "accuracy" in out.stdout and "macro-F1" in out.stdout and "confusion" in out.stdout
    accuracy = float(out.stdout.split("accuracy")[1].split()[0])
    assert accuracy == pytest.approx(1.0)


@pytest.mark.e2e  # the trained model
def test_nlu_eval_rejects_malformed_file(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi"}\n', encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "nlu-eval", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode != 0 and "bad.jsonl:1" in out.stderr
