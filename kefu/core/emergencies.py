"""Emergencies (安全第一): which messages report one, and the first reply.

Everything the customer reads (advice, numbers, the reply's sentences) and
every trigger comes from the data file (kefu/core/data/emergencies.yml, or
KEFU_EMERGENCIES_FILE), which the property manager edits. Rasa's NLU
(bot/components/emergency_detector.py) and the action server
(actions/emergency.py) both read it through `default_emergencies()`.

Check a file and try messages: python -m kefu.core.emergencies [FILE] TEXT...
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kefu.core.settings import EMERGENCIES_FILE, emergencies_file

DATA_FILE = EMERGENCIES_FILE
# A clause ends at punctuation or a space: "水管爆了 到处都是水" is two.
_CLAUSE_END = re.compile(r"[\s，,。.！!？?；;、~～…]")
# How close a negation must be to the trigger ("没有煤气味", "并没有闻到煤气味").
NEGATION_REACH = 3
REPLY_PARTS = ("opening", "numbers", "ticket", "place", "handoff", "outage")


class EmergencyFileError(ValueError):
    """The emergency file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    advice: str
    numbers: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = ()
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmergencyBook:
    kinds: tuple[Kind, ...]
    general: Kind
    numbers: dict[str, str]
    not_now: tuple[str, ...]
    negations: tuple[str, ...]
    reply: dict[str, str]
    ticket_summary: str

    def detect(self, text: str) -> list[Kind]:
        """The kinds of emergency the message reports now, in file order."""
        return [kind for kind in self.kinds if self._reports(kind, text)]

    def _reports(self, kind: Kind, text: str) -> bool:
        # Blank out the phrases that never count, keeping positions.
        for phrase in kind.unless:
            text = text.replace(phrase, " " * len(phrase))
        for pattern in kind.patterns:
            for match in pattern.finditer(text):
                if self._current(text, match.start()):
                    return True
        return False

    def _current(self, text: str, start: int) -> bool:
        """Not about the past, a "what if" or a denial (see the file's not_now, negations)."""
        clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
        before = text[clause_start:start]
        if any(word in before for word in self.not_now):
            return False
        near = before[-(NEGATION_REACH + max((len(w) for w in self.negations), default=0)) :]
        for word in self.negations:
            at = near.rfind(word)
            if at >= 0 and len(near) - (at + len(word)) <= NEGATION_REACH:
                return False
        return True

    def numbers_for(self, kinds: list[Kind]) -> list[str]:
        """The numbers that apply, each once, in the order the kinds name them."""
        seen: list[str] = []
        for kind in kinds:
            for key in kind.numbers:
                number = self.numbers.get(key, "")
                if number and number not in seen:
                    seen.append(number)
        return seen

    def advice(self, kinds: list[Kind]) -> list[str]:
        return [kind.advice for kind in kinds]

    def labels(self, kinds: list[Kind]) -> str:
        return "、".join(kind.label for kind in kinds)

    def first_reply(self, kinds: list[Kind], *, ticket: str | None, promise: str, room: str | None = None) -> str:
        """Advice and numbers first; then the ticket and the human, or (ticket
        None: the desk database is unreachable) the outage sentence."""
        kinds = kinds or [self.general]
        lines = [self.reply["opening"].format(labels=self.labels(kinds)), *self.advice(kinds)]
        numbers = self.numbers_for(kinds)
        if numbers:
            lines.append(self.reply["numbers"].format(numbers="、".join(numbers)))
        if ticket is None:
            lines.append(self.reply["outage"])
            return "\n".join(lines)
        lines.append(self.reply["ticket"].format(ticket=ticket, promise=promise))
        if room:
            lines.append(self.reply["place"].format(room=room))
        lines.append(self.reply["handoff"])
        return "\n".join(lines)

    def summary(self, kinds: list[Kind], text: str) -> str:
        return self.ticket_summary.format(labels=self.labels(kinds or [self.general]), text=text)


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, (str, int)) for x in raw):
        raise EmergencyFileError(f"{where}: expected a list of words")
    return tuple(str(x).strip() for x in raw if str(x).strip())


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise EmergencyFileError(f"{where}: text missing")
    # Folded YAML keeps a space where a Chinese line was wrapped.
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u9fff\uff00-\uffef])", "", raw.strip())


def _kind(raw: Any, where: str, numbers: dict[str, str], triggers: bool = True) -> Kind:
    if not isinstance(raw, dict):
        raise EmergencyFileError(f"{where}: expected a mapping")
    name = str(raw.get("name") or where)
    keys = _strings(raw.get("numbers"), f"{where}.numbers")
    unknown = [k for k in keys if k not in numbers]
    if unknown:
        raise EmergencyFileError(f"{where}.numbers: {unknown} not in numbers")
    patterns = [re.compile(re.escape(word)) for word in _strings(raw.get("words"), f"{where}.words")]
    for source in _strings(raw.get("patterns"), f"{where}.patterns"):
        try:
            patterns.append(re.compile(source))
        except re.error as exc:
            raise EmergencyFileError(f"{where}.patterns: {source!r} is not a regular expression: {exc}") from exc
    if triggers and not patterns:
        raise EmergencyFileError(f"{where}: no words or patterns")
    return Kind(
        name=name,
        label=_text(raw.get("label"), f"{where}.label"),
        advice=_text(raw.get("advice"), f"{where}.advice"),
        numbers=keys,
        patterns=tuple(patterns),
        unless=_strings(raw.get("unless"), f"{where}.unless"),
    )


def load_emergencies(path: Path = DATA_FILE) -> EmergencyBook:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EmergencyFileError(f"{path}: {exc}") from exc
    try:
        if not isinstance(raw, dict):
            raise EmergencyFileError("expected a mapping")
        numbers = {str(k): str(v or "").strip() for k, v in (raw.get("numbers") or {}).items()}
        kinds = tuple(_kind(spec, f"kinds[{i}]", numbers) for i, spec in enumerate(raw.get("kinds") or []))
        names = [k.name for k in kinds]
        if len(set(names)) != len(names):
            raise EmergencyFileError(f"kinds: names repeated: {names}")
        reply = raw.get("reply") or {}
        missing = [part for part in REPLY_PARTS if not isinstance(reply.get(part), str)]
        if missing:
            raise EmergencyFileError(f"reply: {missing} missing")
        book = EmergencyBook(
            kinds=kinds,
            general=_kind(raw.get("general"), "general", numbers, triggers=False),
            numbers=numbers,
            not_now=_strings(raw.get("not_now"), "not_now"),
            negations=_strings(raw.get("negations"), "negations"),
            reply={part: str(reply[part]).strip() for part in REPLY_PARTS},
            ticket_summary=_text(raw.get("ticket_summary"), "ticket_summary"),
        )
        # Every placeholder filled once here, so a typo fails at start, not on an emergency.
        book.first_reply(list(kinds[:1]), ticket="KF000000", promise="30分钟内", room="1栋101")
        book.first_reply([], ticket=None, promise="")
        book.summary([], "")
    except EmergencyFileError as exc:
        raise EmergencyFileError(f"{path}: {exc}") from exc
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise EmergencyFileError(f"{path}: unknown placeholder or bad text: {exc!r}") from exc
    return book


@lru_cache(maxsize=1)
def default_emergencies() -> EmergencyBook:
    """The file KEFU_EMERGENCIES_FILE names (read once per process)."""
    return load_emergencies(emergencies_file())


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv and argv[0].endswith((".yml", ".yaml")) else emergencies_file()
    texts = argv[1:] if argv and argv[0].endswith((".yml", ".yaml")) else argv
    try:
        book = load_emergencies(path)
    except EmergencyFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{path}: {len(book.kinds)} kinds: {book.labels(list(book.kinds))}")
    for text in texts:
        found = book.detect(text)
        print(f"{text} → {book.labels(found) if found else '不是紧急情况'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
