"""Side-by-side NLU comparison on the same training data and held-out file.

    .venv/bin/python bench/nlu_compare.py [--heldout tests/data/nlu_heldout.jsonl]

Systems:
  ours      bot/config.yml (jieba + domain dictionary, blank-token fix,
            char n-grams, regex features, DIET, pattern entities, guard)
  default   Rasa's default recipe (rasa/engine/recipes/config_files/
            default_config.yml) with only WhitespaceTokenizer -> JiebaTokenizer
  sklearn   character 1-4-gram TF-IDF + logistic regression

Prints accuracy, macro-F1, training time and mean parse latency for each.
Each Rasa model trains against its own empty training cache (RASA_CACHE_DIRECTORY
in a temporary folder), so the training time is a full training, never a cache hit
from an earlier `rasa train` in the same folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from kefu.runtime.nlu_scoring import EvalResult, read_examples, score  # noqa: E402

Parser = Callable[[str], str]


def training_examples() -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "data" / "nlu"))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def default_recipe_with_jieba(path: Path) -> Path:
    import rasa
    import yaml

    source = Path(rasa.__file__).parent / "engine" / "recipes" / "config_files" / "default_config.yml"
    config = yaml.safe_load(source.read_text())
    config["language"] = "zh"
    config["pipeline"][0] = {"name": "JiebaTokenizer"}
    config["policies"] = []  # NLU only
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def train_rasa(config: Path, out: Path) -> tuple[Parser, float]:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    # Rasa reads the cache location when each training starts; a fresh, empty folder
    # per model means nothing is reused from ./.rasa/cache or from the other system.
    cache = out.parent / f"cache-{out.name}"
    cache.mkdir()
    os.environ["RASA_CACHE_DIRECTORY"] = str(cache)
    started = time.perf_counter()
    model = train_nlu(
        config=str(config),
        nlu_data=str(ROOT / "data" / "nlu"),
        output=str(out),
        domain=str(ROOT / "bot" / "domain.yml"),
    )
    elapsed = time.perf_counter() - started
    agent = Agent.load(model)
    loop = asyncio.new_event_loop()

    def parse(text: str) -> str:
        result = loop.run_until_complete(agent.parse_message(text))
        return (result.get("intent") or {}).get("name") or "None"

    return parse, elapsed


def train_sklearn() -> tuple[Parser, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    examples = training_examples()
    started = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, lowercase=True),
        LogisticRegression(C=10, max_iter=3000),
    )
    model.fit([t for t, _ in examples], [i for _, i in examples])
    elapsed = time.perf_counter() - started
    return (lambda text: model.predict([text])[0]), elapsed


def measure(name: str, parse: Parser, train_seconds: float, heldout: list[tuple[str, str]]) -> dict:
    parse(heldout[0][0])  # warm-up outside the timing
    predicted, started = [], time.perf_counter()
    for text, _ in heldout:
        predicted.append(parse(text))
    latency_ms = (time.perf_counter() - started) / len(heldout) * 1000
    result: EvalResult = score([i for _, i in heldout], predicted, [t for t, _ in heldout])
    return {
        "name": name,
        "accuracy": result.accuracy,
        "macro_f1": result.macro_f1,
        "train_s": train_seconds,
        "parse_ms": latency_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heldout", default=str(ROOT / "tests" / "data" / "nlu_heldout.jsonl"))
    parser.add_argument("--only", help="comma-separated subset of ours,default,sklearn")
    args = parser.parse_args()
    heldout = read_examples(Path(args.heldout))
    wanted = (args.only or "ours,default,sklearn").split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.chdir(ROOT)  # the jieba dictionary path in bot/config.yml is relative
        if "ours" in wanted:
            rows.append(measure("ours", *train_rasa(ROOT / "bot" / "config.yml", tmp_path / "ours"), heldout))
        if "default" in wanted:
            config = default_recipe_with_jieba(tmp_path / "default_config.yml")
            rows.append(measure("default", *train_rasa(config, tmp_path / "default"), heldout))
        if "sklearn" in wanted:
            rows.append(measure("sklearn", *train_sklearn(), heldout))
    print(f"\nheld-out: {args.heldout} ({len(heldout)} messages)")
    print(f"{'system':<10} {'accuracy':>9} {'macro-F1':>9} {'train s':>8} {'parse ms':>9}")
    for r in rows:
        print(f"{r['name']:<10} {r['accuracy']:>9.4f} {r['macro_f1']:>9.4f} {r['train_s']:>8.1f} {r['parse_ms']:>9.1f}")


if __name__ == "__main__":
    main()
