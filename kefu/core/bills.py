"""Importing fee bills from CSV: every row checked, all rows or none.

Every problem is reported with its line number and nothing is imported until
there are none: a cell count other than the header's, a NUL character, an
amount that is not a plain decimal number of yuan (ASCII digits, at most two
decimals: no `1e3`, `Infinity`, full-width digits or thousands separators).
A cell exported by Kefu with a leading apostrophe (kefu/text/spreadsheet.py) is
read as the text it protects.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.models import Bill, utcnow
from kefu.text.entities import normalize_phone
from kefu.text.spreadsheet import unescape_cell

HEADER = ["customer_id", "channel", "address", "kind", "amount", "due_date", "period"]
CHANNELS = ("wechat", "wecom", "taobao", "tmall", "sms")
# Yuan as people write them on a bill; re.ASCII so that only 0-9 are digits.
AMOUNT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,2})?", re.ASCII)
MAX_AMOUNT_CENTS = 10**9  # 10,000,000 yuan: far above any fee, well inside a 32-bit column


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


class BillFileError(Exception):
    """The file as a whole cannot be read (encoding, header)."""


class BillFileNotText(BillFileError):
    """The file is not UTF-8 text."""


def parse_amount(text: str) -> int:
    """Cents of a plain decimal amount of yuan ("268.50" → 26850); ValueError otherwise."""
    if not AMOUNT.fullmatch(text):
        raise ValueError(text)
    cents = int(Decimal(text) * 100)
    if not 0 < cents <= MAX_AMOUNT_CENTS:
        raise ValueError(text)
    return cents


def _row_to_bill(line: int, row: dict) -> tuple[Bill, list[str]]:
    errors = []
    values = {k: unescape_cell((row.get(k) or "").strip()) for k in HEADER}
    for key in ("customer_id", "address", "kind", "period"):
        if not values[key]:
            errors.append(f"line {line}: {key} is empty")
        elif len(values[key]) > Bill.__table__.c[key].type.length:
            errors.append(f"line {line}: {key} is longer than {Bill.__table__.c[key].type.length} characters")
    if values["channel"] not in CHANNELS:
        errors.append(f"line {line}: channel {values['channel']!r} is not one of {', '.join(CHANNELS)}")
    address = values["address"]
    if values["channel"] == "sms" and address:
        phone = normalize_phone(address)
        if phone is None:
            errors.append(f"line {line}: address {address!r} is not a mobile number (channel sms)")
        else:
            address = phone
    cents = 0
    try:
        cents = parse_amount(values["amount"])
    except ValueError:
        errors.append(
            f"line {line}: amount {values['amount']!r} is not a positive number of yuan "
            f"up to {MAX_AMOUNT_CENTS // 100} with at most two decimals (e.g. 268.50)"
        )
    due = date.min
    try:
        due = date.fromisoformat(values["due_date"])
    except ValueError:
        errors.append(f"line {line}: due_date {values['due_date']!r} is not a date YYYY-MM-DD")
    bill = Bill(
        customer_id=values["customer_id"],
        channel=values["channel"],
        address=address,
        kind=values["kind"],
        amount_cents=cents,
        due_date=due,
        period=values["period"],
        status="unpaid",
    )
    return bill, errors


def read_bills(raw: bytes) -> tuple[list[tuple[int, Bill]], list[str]]:
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BillFileNotText(f"line {line}: the file is not UTF-8 (save it as 'CSV UTF-8')")
    errors = [
        f"line {n}: contains a NUL character" for n, content in enumerate(text.split("\n"), 1) if "\x00" in content
    ]
    # The csv module cannot read NUL; the other problems are reported too.
    reader = csv.reader(io.StringIO(text.replace("\x00", "")))
    bills = []
    try:
        header = next(reader, [])
        if [h.strip() for h in header] != HEADER:
            raise BillFileError(f"line 1: the header must be exactly: {','.join(HEADER)}")
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(cells) != len(HEADER):
                errors.append(f"line {line}: {len(cells)} cells, but the header has {len(HEADER)} ({','.join(HEADER)})")
                continue
            bill, row_errors = _row_to_bill(line, dict(zip(HEADER, cells, strict=True)))
            errors += row_errors
            bills.append((line, bill))
    except csv.Error as exc:  # e.g. a cell over the csv module's size limit
        errors.append(f"line {reader.line_num}: cannot be read as CSV ({exc})")
    return bills, errors


def import_bills(session: Session, raw: bytes) -> ImportReport:
    """Import every bill of the file in one transaction, or none of them.

    A bill already in the database with the same values is left alone, so a
    file can be imported again; one with other values is an error.
    """
    bills, errors = read_bills(raw)
    report = ImportReport(errors=errors)
    seen: dict[tuple, int] = {}
    for line, bill in bills:
        key = (bill.customer_id, bill.kind, bill.period)
        if key in seen:
            report.errors.append(f"line {line}: same customer, kind and period as line {seen[key]}")
        seen[key] = line
    if report.errors:
        return report
    for line, bill in bills:
        existing = session.execute(
            select(Bill).where(
                Bill.customer_id == bill.customer_id,
                Bill.kind == bill.kind,
                Bill.period == bill.period,
            )
        ).scalar_one_or_none()
        if existing is None:
            session.add(bill)
            report.imported += 1
        elif (existing.amount_cents, existing.due_date, existing.channel, existing.address) == (
            bill.amount_cents,
            bill.due_date,
            bill.channel,
            bill.address,
        ):
            report.unchanged += 1
        else:
            report.errors.append(
                f"line {line}: a different bill for {bill.customer_id} {bill.kind} {bill.period} is already imported"
            )
    if report.errors:
        session.rollback()
        report.imported = report.unchanged = 0
        return report
    session.commit()
    return report


def import_file(session: Session, path: Path) -> ImportReport:
    return import_bills(session, path.read_bytes())


def mark_paid(session: Session, customer_id: str, kind: str, period: str) -> bool:
    """Paid bills get no more reminders (checked again right before sending)."""
    bill = session.execute(
        select(Bill).where(Bill.customer_id == customer_id, Bill.kind == kind, Bill.period == period)
    ).scalar_one_or_none()
    if bill is None:
        return False
    if bill.status != "paid":
        bill.status, bill.paid_at = "paid", utcnow()
        session.commit()
    return True
