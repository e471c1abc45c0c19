"""Finding the knowledge-base entry a customer's question is about.

Each entry is known by its standard question and its similar questions.
A text becomes a sparse TF-IDF vector over three kinds of features, so
that real, messy questions still meet their entry:

- words (jieba): 退货 / 运费 / 发票 carry the meaning;
- characters and character pairs: a word jieba splits differently, or a
  short question ("包邮吗") with one telling character pair;
- pinyin syllable pairs (pypinyin, no tones): homophone typos that input
  methods make all the time (退获 → tui huo → 退货, 发或时间 → 发货时间);
- synonym groups (`data/kb_synonyms.yml`): words customers use for the same
  thing (营销中心 / 售楼处, 交付 / 交房, 免运费 / 包邮) share one feature.

An entry's score is the best cosine similarity between the question and
any of its texts, in [0, 1]. The caller decides which score is confident
enough to answer (bench/kb_retrieval.py calibrates it); below it the bot
does what it would without a knowledge base.

Pure text: nothing here knows about the database or the bot.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
import numpy as np
import yaml
from pypinyin import Style, lazy_pinyin
from scipy import sparse

# Feature kinds and their weights (bench/kb_retrieval.py tuned them).
WORD_WEIGHT = 1.0
PAIR_WEIGHT = 1.0
CHAR_WEIGHT = 0.4
PINYIN_WEIGHT = 0.8
SYNONYM_WEIGHT = 1.0  # a group both texts mention counts as a shared word
SYNONYMS_FILE = Path(__file__).resolve().parent / "data" / "kb_synonyms.yml"

# Greetings and politeness that say nothing about the question.
_FILLER = re.compile(
    r"请问一下|请问|问一下|问下|想问一下|想问下|我想问|想咨询一下|咨询一下|咨询下|麻烦问下|麻烦问一下|麻烦|"
    r"你好|您好|哈喽|在吗|在不在|亲爱的|亲亲|^亲(?=[\s,，.。!！~～]|$)|亲$|谢谢|谢啦|多谢"
)
_KEEP = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def normalize(text: str) -> str:
    """NFKC, lower case, fillers dropped, only letters and digits kept."""
    text = unicodedata.normalize("NFKC", text).lower()
    stripped = _FILLER.sub(" ", text)
    # A message that is nothing but filler keeps its words ("在吗" stays "在吗").
    if _KEEP.search(stripped):
        text = stripped
    return "".join(_KEEP.findall(text))


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, list[tuple[str, int]]]:
    """First character → (word, group) of every synonym, longest word first."""
    groups = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8")) or []
    by_first: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
    for number, group in enumerate(groups):
        for word in group:
            norm = "".join(_KEEP.findall(unicodedata.normalize("NFKC", str(word)).lower()))
            if len(norm) >= 2:
                by_first[norm[0]].append((norm, number))
    for words in by_first.values():
        words.sort(key=lambda w: -len(w[0]))
    return dict(by_first)


def synonym_groups(norm: str) -> set[int]:
    """The synonym groups a normalised text mentions."""
    table = _synonyms()
    found = set()
    for i, char in enumerate(norm):
        for word, group in table.get(char, ()):
            if norm.startswith(word, i):
                found.add(group)
                break
    return found


@lru_cache(maxsize=4096)
def _pinyin(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL)[0]


def features(text: str) -> dict[str, float]:
    """Weighted feature counts of one text (before IDF)."""
    norm = normalize(text)
    found: defaultdict[str, float] = defaultdict(float)
    if not norm:
        return found
    for word in jieba.lcut(norm):
        if len(word) > 1 or _CJK.match(word) is None:
            found["w:" + word] += WORD_WEIGHT
    for char in norm:
        found["c:" + char] += CHAR_WEIGHT
    for a, b in zip(norm, norm[1:], strict=False):
        found["b:" + a + b] += PAIR_WEIGHT
    sounds = [_pinyin(c) for c in norm if _CJK.match(c)]
    for a, b in zip(sounds, sounds[1:], strict=False):
        found["p:" + a + "_" + b] += PINYIN_WEIGHT
    for group in synonym_groups(norm):
        found[f"g:{group}"] += SYNONYM_WEIGHT
    return found


@dataclass(frozen=True)
class Match:
    entry_id: int
    score: float


# How an entry's score is made (bench/kb_retrieval.py tuned it): its closest
# question, all its questions together (words spread over several similar
# questions still add up), and its answer (a customer often names what the
# answer talks about: 刷信用卡 → the payment answer lists 信用卡).
CLOSEST_WEIGHT, ALL_WEIGHT, ANSWER_WEIGHT = 0.4, 0.4, 0.2


class _Vectors:
    """L2-normalised TF-IDF rows of some texts, read column by column."""

    def __init__(self, rows: list[dict[str, float]]) -> None:
        document_frequency: Counter[str] = Counter()
        for feats in rows:
            document_frequency.update(feats.keys())
        total = len(rows)
        self.vocabulary = {f: i for i, f in enumerate(document_frequency)}
        self.idf = np.array(
            [math.log((1 + total) / (1 + document_frequency[f])) + 1 for f in self.vocabulary], dtype=np.float64
        )
        self.max_idf = float(self.idf.max()) if len(self.idf) else 1.0
        cells = [(r, self.vocabulary[f], w) for r, feats in enumerate(rows) for f, w in feats.items()]
        matrix = sparse.csr_matrix(
            (
                np.array([w for _, _, w in cells], dtype=np.float64),
                (
                    np.array([r for r, _, _ in cells], dtype=np.int64),
                    np.array([c for _, c, _ in cells], dtype=np.int64),
                ),
            ),
            shape=(total, len(self.vocabulary)),
        )
        matrix = matrix.multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        # Columns first: a question touches few features, so only their columns are read.
        self.matrix = sparse.diags(1.0 / norms).dot(matrix).tocsc()
        self.rows = total

    def scores(self, feats: dict[str, float]) -> np.ndarray:
        """Cosine similarity of the question with every row."""
        known = [(self.vocabulary[f], w) for f, w in feats.items() if f in self.vocabulary]
        if not known:
            return np.zeros(self.rows)
        cols = np.array([c for c, _ in known], dtype=np.int64)
        query = np.array([w for _, w in known], dtype=np.float64) * self.idf[cols]
        # Unknown features still count in the question's length: a long
        # question that shares one word with an entry is not a close match.
        unknown = sum((w * self.max_idf) ** 2 for f, w in feats.items() if f not in self.vocabulary)
        length = math.sqrt(float(query @ query) + unknown)
        return np.asarray(self.matrix[:, cols].dot(query)).ravel() / length


def _merged(rows: list[dict[str, float]]) -> dict[str, float]:
    merged: defaultdict[str, float] = defaultdict(float)
    for feats in rows:
        for f, w in feats.items():
            merged[f] += w
    return merged


class KbIndex:
    """An immutable index of entries: (id, questions) or (id, questions,
    answer). Build a new one when entries change."""

    def __init__(self, entries: Iterable[tuple[int, Sequence[str]] | tuple[int, Sequence[str], str]]) -> None:
        ids: list[int] = []
        texts: list[dict[str, float]] = []
        starts: list[int] = []
        together: list[dict[str, float]] = []
        answers: list[dict[str, float]] = []
        for entry in entries:
            questions = [f for f in (features(t) for t in entry[1]) if f]
            if not questions:
                continue
            ids.append(entry[0])
            starts.append(len(texts))
            texts.extend(questions)
            together.append(_merged(questions))
            answers.append(features(entry[2]) if len(entry) > 2 else {})
        self.entry_ids = np.array(ids, dtype=np.int64)
        self._starts = np.array(starts, dtype=np.int64)
        self._texts = _Vectors(texts)
        self._together = _Vectors(together)
        self._answers = _Vectors(answers)

    def __len__(self) -> int:
        return len(self.entry_ids)

    def search(self, text: str, limit: int = 3) -> list[Match]:
        """The best entries for the text, best first (at most `limit`)."""
        if not len(self.entry_ids):
            return []
        feats = features(text)
        if not feats:
            return []
        closest = np.maximum.reduceat(self._texts.scores(feats), self._starts)
        best = (
            CLOSEST_WEIGHT * closest
            + ALL_WEIGHT * self._together.scores(feats)
            + ANSWER_WEIGHT * self._answers.scores(feats)
        )
        top = np.argsort(-best, kind="stable")[:limit]
        return [Match(int(self.entry_ids[i]), round(float(best[i]), 4)) for i in top if best[i] > 0]
