"""`kefu kb import FILE` and `kefu kb export FILE`: the knowledge base as a
CSV or XLSX spreadsheet (kefu/core/kb_files.py has the format)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    kb = sub.add_parser("kb", help="the knowledge base (知识库): import or export a CSV/XLSX spreadsheet")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    imp = kb_sub.add_parser(
        "import",
        help="import entries (header question,similar,answer,tags[,enabled][,answer_<channel>]); "
        "a question already there is updated; all rows or none",
    )
    imp.add_argument("file")
    exp = kb_sub.add_parser("export", help="write every entry and column (.xlsx: Excel, anything else: CSV)")
    exp.add_argument("file")


def main(args: argparse.Namespace) -> int:
    # Imported here: `kefu` starts fast for the commands that need none of it.
    from sqlalchemy.orm import Session

    from kefu.core import kb_files
    from kefu.core.db import make_engine, upgrade
    from kefu.core.settings import load_settings

    settings = load_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, future=True) as session:
            # A new installation gets its starter knowledge first, as the desk would give it.
            kb_files.start(session, settings.businesses)
            if args.kb_command == "export":
                return export(session, Path(args.file))
            return import_file(session, Path(args.file))
    finally:
        engine.dispose()


def export(session: Any, path: Path) -> int:
    from kefu.core import kb_files

    data = kb_files.export_knowledge(session, xlsx=path.suffix.lower() == ".xlsx")
    path.write_bytes(data)
    print(f"exported the knowledge base to {path}")
    return 0


def import_file(session: Any, path: Path) -> int:
    from kefu.core import kb_files

    if not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2
    try:
        report = kb_files.import_knowledge(session, path.read_bytes())
    except kb_files.KbFileError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    if report.errors:
        for line in report.errors:
            print(f"error: {path}: {line}", file=sys.stderr)
        print(f"nothing imported: {len(report.errors)} problem(s) to fix first", file=sys.stderr)
        return 1
    print(f"imported: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    return 0
