"""Reminder policies: when to remind, how often, never at night, in what words.

Policies are data (kefu/reminders/data/reminder_policies.yml, or the file named by
KEFU_REMINDER_POLICIES): a default for orders and one for bills, with
overrides per shop (orders) and per fee kind (bills).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from kefu.core.models import SHANGHAI
from kefu.core.settings import REMINDER_POLICIES_FILE, reminder_policies_file

DATA_FILE = REMINDER_POLICIES_FILE


class PolicyError(ValueError):
    """The policy file is wrong; says where."""


@dataclass(frozen=True)
class QuietHours:
    """A daily China-time window in which nothing is sent (may wrap midnight)."""

    start: time | None = None
    end: time | None = None

    @classmethod
    def parse(cls, value: Any, where: str) -> QuietHours:
        if value in (None, "", "none", False):
            return cls()
        try:
            start, end = (datetime.strptime(part.strip(), "%H:%M").time() for part in str(value).split("-"))
        except ValueError:
            raise PolicyError(f"{where}: quiet_hours must look like 22:00-08:00, not {value!r}")
        return cls(start, end)

    def contains(self, moment: datetime) -> bool:
        start, end = self.start, self.end
        if start is None or end is None or start == end:  # parse() sets both or neither
            return False
        local = moment.astimezone(SHANGHAI).time()
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself, or the end of the quiet window it falls in."""
        if not self.contains(moment):
            return moment
        assert self.end is not None  # contains() is never true without a window
        local = moment.astimezone(SHANGHAI)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end

    def __str__(self) -> str:
        if self.start is None:
            return "none"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Policy:
    name: str
    max_reminders: int
    min_gap_minutes: int
    quiet_hours: QuietHours
    pay_later_pause_hours: int
    templates: Mapping[str, str]
    # orders
    first_after_minutes: int = 30
    stop_after_hours: int = 72
    # bills
    first_offset_days: int = -3
    send_time: time = time(9, 0)
    stop_after_days: int = 90

    @property
    def min_gap(self) -> timedelta:
        return timedelta(minutes=self.min_gap_minutes)

    def template(self, channel: str) -> str:
        try:
            return self.templates[channel]
        except KeyError:
            raise PolicyError(f"policy {self.name}: no template for channel {channel!r}")

    def first_bill_reminder(self, due: date) -> datetime:
        day = due + timedelta(days=self.first_offset_days)
        return datetime.combine(day, self.send_time, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Policies:
    order_default: Policy
    bill_default: Policy
    shops: dict[str, Policy] = field(default_factory=dict)
    kinds: dict[str, Policy] = field(default_factory=dict)

    def for_order(self, shop: str | None) -> Policy:
        return self.shops.get(shop or "", self.order_default)

    def for_bill(self, kind: str) -> Policy:
        return self.kinds.get(kind, self.bill_default)


_INT_KEYS = (
    "max_reminders",
    "min_gap_minutes",
    "pay_later_pause_hours",
    "first_after_minutes",
    "stop_after_hours",
    "first_offset_days",
    "stop_after_days",
)
_KNOWN = {f.name for f in fields(Policy)} - {"name"}


def _policy(name: str, raw: Mapping[str, Any], base: Policy | None) -> Policy:
    unknown = set(raw) - _KNOWN
    if unknown:
        raise PolicyError(f"policy {name}: unknown key(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for key in _INT_KEYS:
        if key in raw:
            try:
                values[key] = int(raw[key])
            except (TypeError, ValueError):
                raise PolicyError(f"policy {name}: {key} must be a whole number, not {raw[key]!r}")
    if "max_reminders" in values and values["max_reminders"] < 0:
        raise PolicyError(f"policy {name}: max_reminders must not be negative")
    if "quiet_hours" in raw:
        values["quiet_hours"] = QuietHours.parse(raw["quiet_hours"], f"policy {name}")
    if "send_time" in raw:
        try:
            values["send_time"] = datetime.strptime(str(raw["send_time"]), "%H:%M").time()
        except ValueError:
            raise PolicyError(f"policy {name}: send_time must look like 09:00")
    if "templates" in raw:
        values["templates"] = {
            **(base.templates if base else {}),
            **{str(k): str(v) for k, v in (raw["templates"] or {}).items()},
        }
    if base is not None:
        return replace(base, name=name, **values)
    missing = {"max_reminders", "min_gap_minutes", "templates"} - set(values)
    if missing:
        raise PolicyError(f"policy {name}: missing {', '.join(sorted(missing))}")
    values.setdefault("quiet_hours", QuietHours.parse("22:00-08:00", name))
    values.setdefault("pay_later_pause_hours", 24)
    return Policy(name=name, **values)


def parse_policies(raw: Mapping[str, Any]) -> Policies:
    try:
        orders, bills = raw["orders"], raw["bills"]
        order_default = _policy("orders.default", orders["default"], None)
        bill_default = _policy("bills.default", bills["default"], None)
    except (KeyError, TypeError):
        raise PolicyError("the policy file needs orders.default and bills.default")
    shops = {
        str(k): _policy(f"orders.shops.{k}", v or {}, order_default) for k, v in (orders.get("shops") or {}).items()
    }
    kinds = {str(k): _policy(f"bills.kinds.{k}", v or {}, bill_default) for k, v in (bills.get("kinds") or {}).items()}
    return Policies(order_default, bill_default, shops, kinds)


def load_policies(path: Path | None = None) -> Policies:
    """path: by default KEFU_REMINDER_POLICIES, else DATA_FILE."""
    path = path or reminder_policies_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text")
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: {exc}")
    return parse_policies(raw or {})


def yuan(cents: int | None) -> str:
    return f"{(cents or 0) / 100:.2f}"


def china_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render(template: str, values: Mapping[str, Any]) -> tuple[str, str | None]:
    """The text, or None and why when the template names an unknown field."""
    try:
        return template.format_map(dict(values)), None
    except (KeyError, IndexError, ValueError) as exc:
        return "", f"template error: {exc!r}"
