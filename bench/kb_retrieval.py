"""Knowledge-base retrieval: ours (kefu/text/kb_match.py) beside plain BM25.

    .venv/bin/python bench/kb_retrieval.py

Data (bench/data/, written for this benchmark, apart from the starter knowledge):
  kb_entries.jsonl      the knowledge base: 344 entries of the three businesses
  kb_paraphrases.jsonl  customer questions each entry answers, written
                        separately from the entries' own similar questions
  kb_uncovered.jsonl    questions of the same businesses no entry answers

Figures, for each system:
  top-1           share of paraphrases whose best entry is the right one
  answered right  share of paraphrases answered, and right, above the threshold
  wrong on uncovered  share of uncovered questions answered anyway (above the threshold)
  threshold       chosen so that at most 5 % of uncovered questions get an
                  answer, with two-fold cross-validation (chosen on one half
                  of the questions, measured on the other, and the other way
                  round) so the figures are not tuned on what they measure
  latency         p50 / p99 of one search, at the bench's entries and at
                  10,000 distinct entries (the entries combined with product
                  and place words)

Then, for ours at the bot's own thresholds (actions/knowledge.py), what a
customer gets: answered outright (score >= CONFIDENT), or, between SUGGEST
and CONFIDENT, "您是不是想问" with up to 3 entries, where the right one may
be among them (the customer's choice then gets its answer).

The baseline is rank-bm25's BM25Okapi over jieba tokens of each entry's
question and similar questions (an entry scores its best text).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jieba  # noqa: E402
import numpy as np  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402

from actions.knowledge import CONFIDENT, SUGGEST, SUGGESTED  # noqa: E402
from kefu.text.kb_match import KbIndex, normalize  # noqa: E402

DATA = ROOT / "bench" / "data"
MAX_WRONG = 0.05
# Product and place words that make 10,000 distinct entries out of the bench's own.
WORDS = [
    "羽绒服",
    "连衣裙",
    "运动鞋",
    "电饭煲",
    "空调",
    "冰箱",
    "洗衣机",
    "手机",
    "耳机",
    "床垫",
    "沙发",
    "面膜",
    "口红",
    "奶粉",
    "茶叶",
    "坚果",
    "A栋",
    "B栋",
    "C栋",
    "一期",
    "二期",
    "三期",
    "东区",
    "西区",
    "南区",
    "北区",
    "商铺",
    "公寓",
    "别墅",
    "洋房",
    "车库",
    "会所",
]

Search = Callable[[str], list[tuple[str, float]]]


def read(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def ours(entries: Sequence[dict]) -> Search:
    ids = {i: e["id"] for i, e in enumerate(entries)}
    index = KbIndex((i, [e["question"], *e["similar"]], e.get("answer", "")) for i, e in enumerate(entries))

    def search(text: str) -> list[tuple[str, float]]:
        return [(ids[m.entry_id], m.score) for m in index.search(text, 1)]

    return search


def tokens(text: str) -> list[str]:
    return [t for t in jieba.lcut(normalize(text)) if t.strip()]


def bm25(entries: Sequence[dict]) -> Search:
    owners, corpus = [], []
    for e in entries:
        for text in [e["question"], *e["similar"]]:
            owners.append(e["id"])
            corpus.append(tokens(text) or ["∅"])
    model = BM25Okapi(corpus)
    owner_index = {o: i for i, o in enumerate(dict.fromkeys(owners))}
    owner_of = np.array([owner_index[o] for o in owners])
    names = list(owner_index)

    def search(text: str) -> list[tuple[str, float]]:
        query = tokens(text)
        if not query:
            return []
        scores = model.get_scores(query)
        best = np.zeros(len(names))
        np.maximum.at(best, owner_of, scores)
        top = int(np.argmax(best))
        return [(names[top], float(best[top]))] if best[top] > 0 else []

    return search


def results(search: Search, paraphrases: list[dict], uncovered: list[dict]) -> tuple[list, list]:
    """(right?, score) of every paraphrase's best entry; the score of every uncovered question's."""
    covered = []
    for p in paraphrases:
        found = search(p["text"])
        covered.append((bool(found) and found[0][0] == p["entry_id"], found[0][1] if found else 0.0))
    stray = [(found[0][1] if (found := search(u["text"])) else 0.0) for u in uncovered]
    return covered, stray


def threshold_for(stray: list[float]) -> float:
    """The lowest threshold that answers at most MAX_WRONG of the uncovered questions."""
    ordered = sorted(stray, reverse=True)
    allowed = math.floor(MAX_WRONG * len(ordered))
    return ordered[allowed] + 1e-9 if allowed < len(ordered) else 0.0


def measure(covered: list, stray: list[float], threshold: float) -> tuple[float, float]:
    right = sum(1 for ok, score in covered if ok and score >= threshold) / len(covered)
    wrong = sum(1 for score in stray if score >= threshold) / len(stray)
    return right, wrong


def cross_validated(covered: list, stray: list[float]) -> tuple[float, float]:
    """Answered right and wrong-on-uncovered, threshold chosen on the other half."""
    halves = [(covered[0::2], stray[0::2]), (covered[1::2], stray[1::2])]
    figures = []
    for (test_c, test_s), (_train_c, train_s) in ((halves[0], halves[1]), (halves[1], halves[0])):
        figures.append(measure(test_c, test_s, threshold_for(train_s)))
    return statistics.mean(f[0] for f in figures), statistics.mean(f[1] for f in figures)


def latency(search: Search, texts: list[str]) -> tuple[float, float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        search(text)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def many_entries(entries: list[dict], count: int) -> list[dict]:
    """`count` distinct entries: the bench's own, then each combined with a word."""
    grown = list(entries)
    for word in WORDS:
        for e in entries:
            if len(grown) >= count:
                return grown
            grown.append(
                {
                    "id": f"{e['id']}-{word}",
                    "question": f"{word}{e['question']}",
                    "similar": [f"{word}{s}" for s in e["similar"]],
                    "answer": e["answer"],
                }
            )
    return grown


def suggestions(entries: Sequence[dict], paraphrases: list[dict], uncovered: list[dict]) -> None:
    """What the bot does with each question at its own thresholds."""
    ids = {i: e["id"] for i, e in enumerate(entries)}
    index = KbIndex((i, [e["question"], *e["similar"]], e["answer"]) for i, e in enumerate(entries))

    def offered(text: str) -> tuple[str | None, list[str]]:
        """(the entry answered outright, or the entries offered instead)."""
        found = [m for m in index.search(text, SUGGESTED) if m.score >= SUGGEST]
        if found and found[0].score >= CONFIDENT:
            return ids[found[0].entry_id], []
        return None, [ids[m.entry_id] for m in found]

    outright = among = 0
    for p in paraphrases:
        answered, offer = offered(p["text"])
        outright += answered == p["entry_id"]
        among += p["entry_id"] in offer
    stray = [offered(u["text"]) for u in uncovered]
    n, u = len(paraphrases), len(uncovered)
    print()
    print(f"猜您想问 (ours; answer at {CONFIDENT}, up to {SUGGESTED} suggestions at {SUGGEST}):")
    print(
        "| paraphrases answered right outright | right among the suggestions | right either way "
        "| uncovered answered (wrong) | uncovered offered suggestions |"
    )
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| {outright / n:.3f} | {among / n:.3f} | {(outright + among) / n:.3f} "
        f"| {sum(1 for a, _ in stray if a) / u:.3f} | {sum(1 for _, o in stray if o) / u:.3f} |"
    )


def main() -> None:
    entries, paraphrases, uncovered = read("kb_entries.jsonl"), read("kb_paraphrases.jsonl"), read("kb_uncovered.jsonl")
    print(f"{len(entries)} entries, {len(paraphrases)} paraphrases, {len(uncovered)} uncovered questions")
    queries = [p["text"] for p in paraphrases] + [u["text"] for u in uncovered]
    big = many_entries(entries, 10_000)
    assert len({e["question"] for e in big}) == 10_000
    rows = []
    for name, build in (("ours", ours), ("BM25", bm25)):
        search = build(entries)
        covered, stray = results(search, paraphrases, uncovered)
        top1 = sum(ok for ok, _ in covered) / len(covered)
        right, wrong = cross_validated(covered, stray)
        threshold = threshold_for(stray)
        small = latency(search, queries)
        large = latency(build(big), queries[:400])
        rows.append((name, top1, right, wrong, threshold, small, large))
    print()
    print(
        "| system | top-1 | answered right | wrong on uncovered | threshold (all data) | p50 / p99 at 344 | p50 / p99 at 10,000 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, top1, right, wrong, threshold, small, large in rows:
        print(
            f"| {name} | {top1:.3f} | {right:.3f} | {wrong:.3f} | {threshold:.3f} "
            f"| {small[0]:.2f} / {small[1]:.2f} ms | {large[0]:.2f} / {large[1]:.2f} ms |"
        )
    suggestions(entries, paraphrases, uncovered)


if __name__ == "__main__":
    main()
