"""The knowledge base as a spreadsheet: `kefu kb import|export`, and the
starter knowledge a new installation begins with.

CSV (UTF-8; Excel's BOM accepted) or XLSX, header `question,similar,answer,tags`
in any order, plus optional `enabled` and `answer_<channel>` columns. Similar
questions are separated by `|` or line breaks inside the cell, tags by `,`
(or `，`, `、` or line breaks); a cell with line breaks is split only there. An import is all or nothing: every problem is
reported with its line number first, like the bills import. A row whose
question is already in the knowledge base updates that entry. Export writes
every column, so export → import loses nothing. Cells are written
formula-safe and read back as they were (kefu/text/spreadsheet.py).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest
from kefu.core.knowledge import CHANNELS, bump_revision, checked
from kefu.core.models import KbEntry, KbRevision, utcnow
from kefu.text.spreadsheet import safe_cell, unescape_cell

REQUIRED = ["question", "similar", "answer", "tags"]
VARIANT_COLUMNS = {f"answer_{c}": c for c in CHANNELS}
COLUMNS = [*REQUIRED, "enabled", *VARIANT_COLUMNS]
STARTER_DIR = Path(__file__).resolve().parent / "data" / "knowledge"
BUSINESSES = ("shop", "property", "developer")
TRUE = {"1", "true", "yes", "y", "是", "启用", "on"}
FALSE = {"0", "false", "no", "n", "否", "停用", "禁用", "off"}
_SIMILAR_SPLIT = re.compile(r"[|｜]")
_TAG_SPLIT = re.compile(r"[,，、]")


def _split(cell: str, separators: re.Pattern[str]) -> list[str]:
    """Items of a cell: one per line where it has line breaks (so an item
    may hold a `|` or `,`), else split at the separators."""
    parts = cell.split("\n") if "\n" in cell else separators.split(cell)
    return [p.strip() for p in parts if p.strip()]


class KbFileError(BadRequest, ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, not UTF-8, header)."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unescape_cell(str(value))


def _rows_of_xlsx(raw: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise KbFileError(f"the file cannot be read as XLSX ({exc})")
    try:
        sheet = book.worksheets[0]
        return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _rows_of_csv(raw: bytes) -> list[list[str]]:
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise KbFileError(f"line {line}: the file is not UTF-8 (save it as 'CSV UTF-8')")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise KbFileError(f"line {line}: contains a NUL character")
    try:
        return [[unescape_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise KbFileError(f"the file cannot be read as CSV ({exc})")


def read_rows(raw: bytes) -> list[list[str]]:
    """Rows of a CSV or XLSX file (told apart by content, not by name)."""
    return _rows_of_xlsx(raw) if raw.startswith(b"PK\x03\x04") else _rows_of_csv(raw)


def _enabled(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in TRUE or lowered == "":
        return True
    if lowered in FALSE:
        return False
    return None


def parse(raw: bytes) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """(line, entry fields) of every row, and every problem found."""
    rows = read_rows(raw)
    if not rows:
        raise KbFileError(f"line 1: the header must name the columns {','.join(REQUIRED)}")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h and h not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise KbFileError(
            f"line 1: the header must name {','.join(REQUIRED)} (and may name enabled and "
            f"{','.join(VARIANT_COLUMNS)}), each once"
            + (f"; missing: {','.join(missing)}" if missing else "")
            + (f"; unknown: {','.join(unknown)}" if unknown else "")
        )
    found: list[tuple[int, dict[str, Any]]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(rows[1:], 2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            errors.append(f"line {line}: {len(cells)} cells, but the header has {len(header)}")
            continue
        row = dict(zip(header, [*cells, *[""] * (len(header) - len(cells))], strict=False))
        fields: dict[str, Any] = {
            "question": row["question"],
            "answer": row["answer"],
            "similar": _split(row["similar"], _SIMILAR_SPLIT),
            "tags": _split(row["tags"], _TAG_SPLIT),
            "variants": {channel: row[col] for col, channel in VARIANT_COLUMNS.items() if row.get(col, "").strip()},
        }
        enabled = _enabled(row.get("enabled", ""))
        if enabled is None:
            errors.append(f"line {line}: enabled {row['enabled']!r} is not one of 1/0, true/false, 是/否")
            continue
        fields["enabled"] = enabled
        try:
            clean = checked(fields)
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if clean["question"] in seen:
            errors.append(f"line {line}: the same question as line {seen[clean['question']]}")
            continue
        seen[clean["question"]] = line
        found.append((line, clean))
    return found, errors


def import_knowledge(session: Session, raw: bytes, by: str | None = None, commit: bool = True) -> ImportReport:
    """Every entry of the file in one transaction, or none of them."""
    rows, errors = parse(raw)
    report = ImportReport(errors=errors)
    if errors:
        return report
    existing = {e.question: e for e in session.execute(select(KbEntry)).scalars()}
    now = utcnow()
    for _line, fields in rows:
        entry = existing.get(fields["question"])
        if entry is None:
            session.add(
                KbEntry(**fields, hits=0, helpful=0, unhelpful=0, updated_by=by, created_at=now, updated_at=now)
            )
            report.added += 1
        elif all(getattr(entry, k) == v for k, v in fields.items()):
            report.unchanged += 1
        else:
            for k, v in fields.items():
                setattr(entry, k, v)
            entry.updated_by, entry.updated_at = by, now
            report.updated += 1
    if report.added or report.updated:
        bump_revision(session)
    if commit:
        session.commit()
    return report


def _join(items: list[str], separator: str) -> str:
    """A cell `_split` reads back as these items: one per line (a line break
    even after a single item) where an item holds a separator."""
    if any(separator in item or "|" in item or "," in item or "，" in item or "、" in item for item in items):
        return "\n".join(items) + "\n"
    return separator.join(items)


def export_knowledge(session: Session, xlsx: bool = False) -> bytes:
    """Every entry, every column (CSV with a BOM, so Excel reads it as UTF-8)."""
    rows = [COLUMNS]
    for e in session.execute(select(KbEntry).order_by(KbEntry.id)).scalars():
        rows.append(
            [
                e.question,
                _join(e.similar, "|"),
                e.answer,
                _join(e.tags, ","),
                "1" if e.enabled else "0",
                *[e.variants.get(channel, "") for channel in VARIANT_COLUMNS.values()],
            ]
        )
    if xlsx:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "知识库"
        for row in rows:
            sheet.append([safe_cell(c) for c in row])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO()
    csv.writer(text).writerows([[safe_cell(c) for c in row] for row in rows])
    return text.getvalue().encode("utf-8-sig")


def starter_files(businesses: tuple[str, ...]) -> list[Path]:
    return [STARTER_DIR / f"{b}.csv" for b in businesses]


def start(session: Session, businesses: tuple[str, ...]) -> bool:
    """A new installation's knowledge base: the starter knowledge of its
    businesses (KEFU_BUSINESS), once. Claimed by moving the revision from 0,
    so two processes starting together import it once, and a knowledge base
    a supervisor emptied is not filled again."""
    claimed = session.execute(update(KbRevision).where(KbRevision.id == 1, KbRevision.revision == 0).values(revision=1))
    if claimed.rowcount != 1:
        session.rollback()
        return False
    for path in starter_files(businesses):
        if not path.exists():
            continue
        report = import_knowledge(session, path.read_bytes(), commit=False)
        if report.errors:
            session.rollback()
            raise KbFileError(f"{path}: " + "; ".join(report.errors[:5]))
    session.commit()
    return True
