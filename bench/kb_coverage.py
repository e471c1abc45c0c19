"""How much of what customers ask the starter knowledge answers by itself.

    .venv/bin/python bench/kb_coverage.py [--threshold 0.5]

For each business, tests/data/kb_questions_<business>.jsonl holds everyday
customer questions written before the starter knowledge
(kefu/core/data/knowledge/<business>.csv), each with the topic it is about
(tests/data/kb_topics.yml) or null when no topic covers it. The knowledge
base is all three starter files, as a default installation has it
(KEFU_BUSINESS=shop,property,developer). A question is answered right when
its best entry is its topic's entry and scores at or above the threshold
the bot answers from (actions/knowledge.py CONFIDENT).

With "您是不是想问" (actions/knowledge.py SUGGEST): a question below the
threshold whose topic's entry is among the (up to 3) entries offered counts
as right by the customer's choice.

Prints per business: answered right (share of all its questions, so the
questions no topic covers count against it), answered wrong (a wrong entry
above the threshold, on covered and uncovered questions), and top-1 (right
entry first, whatever its score).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from actions.knowledge import CONFIDENT, SUGGEST, SUGGESTED  # noqa: E402
from kefu.core.kb_files import BUSINESSES, STARTER_DIR, parse  # noqa: E402
from kefu.text.kb_match import KbIndex  # noqa: E402

DATA = ROOT / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=CONFIDENT)
    threshold = parser.parse_args().threshold
    entries = []
    for business in BUSINESSES:
        rows, errors = parse((STARTER_DIR / f"{business}.csv").read_bytes())
        assert not errors, errors
        entries += [fields for _line, fields in rows]
    index = KbIndex((i, [e["question"], *e["similar"]], e["answer"]) for i, e in enumerate(entries))
    topics = yaml.safe_load((DATA / "kb_topics.yml").read_text(encoding="utf-8"))
    print(f"{len(entries)} starter entries; threshold {threshold}")
    print(f"suggestions: up to {SUGGESTED} at {SUGGEST}")
    print(
        "| business | questions | answered right | answered wrong | top-1 (covered) "
        "| right by a suggestion | right either way | offered suggestions, none right |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for business in BUSINESSES:
        standard = {t["id"]: t["question"] for t in topics[business]}
        lines = (DATA / f"kb_questions_{business}.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line) for line in lines if line.strip()]
        right = wrong = first = covered = picked = missed = 0
        for q in questions:
            found = index.search(q["text"], SUGGESTED)
            best = entries[found[0].entry_id]["question"] if found else None
            answered = bool(found) and found[0].score >= threshold
            expected = standard.get(q["topic"]) if q["topic"] else None
            if expected:
                covered += 1
                first += best == expected
            if answered and best == expected:
                right += 1
            elif answered:
                wrong += 1
            else:
                offered = [entries[m.entry_id]["question"] for m in found if m.score >= SUGGEST]
                picked += bool(expected) and expected in offered
                missed += bool(offered) and expected not in offered
        n = len(questions)
        print(
            f"| {business} | {n} | {right / n:.3f} | {wrong / n:.3f} | {first / covered:.3f} "
            f"| {picked / n:.3f} | {(right + picked) / n:.3f} | {missed / n:.3f} |"
        )


if __name__ == "__main__":
    main()
