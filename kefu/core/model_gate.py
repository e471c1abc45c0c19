"""The quality gate a newly trained model passes before it goes live.

It goes live only if its macro-F1 on the held-out test files is at most one
point below the live model's, and it understands the held-back newly
labelled examples at least as well as the live model does. With no live
model there is nothing to protect: the first model goes live.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_F1_DROP = 0.01


@dataclass(frozen=True)
class Scores:
    heldout_accuracy: float
    heldout_macro_f1: float
    heldout_n: int
    new_correct: int  # held-back new examples given their labelled intent
    new_n: int

    def as_json(self) -> dict:
        return {
            "heldout_accuracy": round(self.heldout_accuracy, 4),
            "heldout_macro_f1": round(self.heldout_macro_f1, 4),
            "heldout_n": self.heldout_n,
            "new_correct": self.new_correct,
            "new_n": self.new_n,
        }


@dataclass(frozen=True)
class Verdict:
    live: bool
    reason: str


def decide(candidate: Scores, current: Scores | None) -> Verdict:
    if current is None:
        return Verdict(True, "第一个模型：没有在用的模型可比，直接上线")
    drop = current.heldout_macro_f1 - candidate.heldout_macro_f1
    if drop > MAX_F1_DROP:
        return Verdict(
            False,
            f"测试集 macro-F1 从 {current.heldout_macro_f1:.4f} 降到 {candidate.heldout_macro_f1:.4f}，"
            f"下降 {drop * 100:.1f} 个点，超过允许的 {MAX_F1_DROP * 100:.0f} 个点",
        )
    if candidate.new_correct < current.new_correct:
        return Verdict(
            False,
            f"新标注的留出例句只答对 {candidate.new_correct}/{candidate.new_n} 句，"
            f"不如在用模型的 {current.new_correct}/{current.new_n} 句",
        )
    return Verdict(
        True,
        f"测试集 macro-F1 {candidate.heldout_macro_f1:.4f}（在用 {current.heldout_macro_f1:.4f}），"
        f"新标注留出例句 {candidate.new_correct}/{candidate.new_n}（在用 {current.new_correct}/{current.new_n}）",
    )
