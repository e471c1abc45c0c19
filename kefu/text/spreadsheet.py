"""Cells that a spreadsheet must show as text, never run as a formula.

Excel, LibreOffice and WPS treat a cell starting with `= + - @` (and tab or
carriage return, which some of them skip first) as a formula, so a customer
who names themself `=HYPERLINK(...)` would put a live link or a DDE command
into a supervisor's report. Every CSV/XLSX cell Kefu writes goes through
`safe_cell`: a leading apostrophe makes the spreadsheet show the text as it
is. Kefu's own importers read such a cell back with `unescape_cell`, so an
exported file imports to the same values.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Numbers stay numbers; text that could start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(text: str) -> str:
    """The text `safe_cell` was given (other cells are returned unchanged)."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
