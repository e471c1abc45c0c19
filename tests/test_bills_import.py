"""`kefu bills import`: every row checked, all rows or none, safe to repeat."""

from __future__ import annotations

import csv
import io
import os

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.db import make_engine
from kefu.core.models import Bill
from kefu.text.spreadsheet import safe_cell
from tests.support.cli import Result, kefu

HEADER = "customer_id,channel,address,kind,amount,due_date,period\n"
GOOD = (
    HEADER
    + "wechat:oA1,wechat,oA1,物业费,268.50,2026-12-10,2026-12\n"
    + "sms:13812345678,sms,138 1234 5678,水电费,86,2026-12-15,2026-11\n"
    + "taobao:tb_buyer,taobao,tb_buyer,租金,3200.00,2026-12-01,2026-12\n"
)


@pytest.fixture()
def db_url(migrated_database_url):
    return migrated_database_url


def run_import(db_url: str, path) -> Result:
    return kefu("bills", "import", str(path), env={"KEFU_DATABASE_URL": db_url})


def bills(db_url: str) -> list:
    with Session(make_engine(db_url)) as session:
        return [
            (b.customer_id, b.address, b.amount_cents, str(b.due_date), b.status)
            for b in session.execute(select(Bill).order_by(Bill.id)).scalars()
        ]


def test_good_file_imports_every_bill_once(db_url, tmp_path):
    path = tmp_path / "bills.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())  # with Excel's BOM
    first = run_import(db_url, path)
    assert first.returncode == 0, first.stderr
    assert "imported 3 bill(s)" in first.stdout
    assert bills(db_url) == [
        ("wechat:oA1", "oA1", 26850, "2026-12-10", "unpaid"),
        ("sms:13812345678", "13812345678", 8600, "2026-12-15", "unpaid"),
        ("taobao:tb_buyer", "tb_buyer", 320000, "2026-12-01", "unpaid"),
    ]
    again = run_import(db_url, path)
    assert again.returncode == 0 and "imported 0 bill(s); 3 already imported" in again.stdout
    assert len(bills(db_url)) == 3


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(db_url, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "wechat:oA1,wechat,oA1,物业费,268.50,2026-12-10,2026-12\n"
        + "wechat:oB2,fax,oB2,物业费,100,2026-12-10,2026-12\n"
        + "sms:x,sms,12345,水电费,abc,2026-13-01,2026-11\n"
        + "wechat:oA1,wechat,oA1,物业费,268.50,2026-12-10,2026-12\n",
        encoding="utf-8",
    )
    result = run_import(db_url, path)
    assert result.returncode == 1
    assert "line 3: channel 'fax'" in result.stderr
    assert "line 4: address '12345' is not a mobile number" in result.stderr
    assert "line 4: amount 'abc'" in result.stderr and "line 4: due_date '2026-13-01'" in result.stderr
    assert "line 5: same customer, kind and period as line 2" in result.stderr
    assert "nothing imported" in result.stderr
    assert bills(db_url) == []


def test_conflicting_reimport_changes_nothing(db_url, tmp_path):
    path = tmp_path / "bills.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert run_import(db_url, path).returncode == 0
    changed = tmp_path / "changed.csv"
    changed.write_text(
        GOOD.replace("268.50", "300.00") + "wechat:oC3,wechat,oC3,停车费,150,2026-12-05,2026-12\n", encoding="utf-8"
    )
    result = run_import(db_url, changed)
    assert result.returncode == 1 and "line 2: a different bill" in result.stderr
    assert len(bills(db_url)) == 3 and bills(db_url)[0][2] == 26850  # oC3 not half-imported


def test_wrong_header_and_encoding_are_clear_errors(db_url, tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,amount\nx,1\n", encoding="utf-8")
    result = run_import(db_url, wrong)
    assert result.returncode == 1 and "header must be exactly" in result.stderr
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(GOOD.encode("gbk"))
    result = run_import(db_url, gbk)
    # Not UTF-8 is refused like a bad argument (issue 11, item 1): exit code 2.
    assert result.returncode == 2 and "line 2: the file is not UTF-8" in result.stderr


def test_only_plain_decimal_amounts_and_no_crash_on_odd_cells(db_url, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(
        (
            HEADER
            + "wechat:oA1,wechat,oA1,物业费,1e20,2026-12-10,2026-12\n"
            + "wechat:oA2,wechat,oA2,物业费,Infinity,2026-12-10,2026-12\n"
            + "wechat:oA3,wechat,oA3,物业费,1e3,2026-12-10,2026-12\n"
            + "wechat:oA4,wechat,oA4,物业费,２６８.５０,2026-12-10,2026-12\n"
            + "wechat:oA5,wechat,oA5,物业费,NaN,2026-12-10,2026-12\n"
            + "wechat:oA6,wechat,oA6,物业费,100000000,2026-12-10,2026-12\n"
            + "wechat:oA7,wechat,oA7,物\x00业费,100,2026-12-10,2026-12\n"
            + "wechat:oA8,wechat,oA8,物业费,100,2026-12-10,2026-12,surplus\n"
            + "wechat:oA9,wechat,oA9,物业费,268.50,2026-12-10,2026-12\n"
        ).encode()
    )
    result = run_import(db_url, path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for line, cell in ((2, "1e20"), (3, "Infinity"), (4, "1e3"), (5, "２６８.５０"), (6, "NaN"), (7, "100000000")):
        assert f"line {line}: amount {cell!r} is not a positive number of yuan" in result.stderr
    assert "line 8: contains a NUL character" in result.stderr
    assert "line 9: 8 cells, but the header has 7" in result.stderr
    assert "line 10" not in result.stderr and "nothing imported" in result.stderr
    assert bills(db_url) == []


def test_undecodable_argument_is_refused_with_exit_code_2(db_url, tmp_path):
    name = os.fsencode(str(tmp_path)) + b"/bills\xff.csv"
    result = kefu("bills", "import", name, env={"KEFU_DATABASE_URL": db_url})
    assert result.returncode == 2 and "error: file is not valid UTF-8 text" in result.stderr, result.stderr
    for args in (["customer", "export", b"taobao:\xe5\xb0"], ["bills", "paid", b"wechat:\xff", "物业费", "2026-12"]):
        result = kefu(*args, env={"KEFU_DATABASE_URL": db_url})
        assert result.returncode == 2 and "error: customer_id is not valid UTF-8 text" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_formula_cells_round_trip_through_the_apostrophe(db_url, tmp_path):
    from kefu.core.reports import to_csv

    rows = [
        ['=HYPERLINK("http://x")', "wechat", '=HYPERLINK("http://x")', "+物业费", "12.00", "2026-12-10", "-1"],
        ["@SUM(A1)", "wechat", "@SUM(A1)", "\t停车费", "15.00", "2026-12-10", "2026-12"],
    ]
    exported = tmp_path / "exported.csv"
    with exported.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER.strip().split(","))
        writer.writerows([[safe_cell(c) for c in row] for row in rows])
    text = exported.read_text(encoding="utf-8")
    assert "\n=" not in text and ",=" not in text and ",+" not in text and ",-" not in text and "\n@" not in text
    result = run_import(db_url, exported)
    assert result.returncode == 0, result.stderr
    with Session(make_engine(db_url)) as session:
        stored = [
            (b.customer_id, b.address, b.kind, b.period)
            for b in session.execute(select(Bill).order_by(Bill.id)).scalars()
        ]
    # Each cell comes back as it was exported, the tab the apostrophe protected included.
    assert stored == [
        ('=HYPERLINK("http://x")', '=HYPERLINK("http://x")', "+物业费", "-1"),
        ("@SUM(A1)", "@SUM(A1)", "\t停车费", "2026-12"),
    ]

    report = {
        "week": "2026-W49",
        "tickets": 1,
        "resolved": 0,
        "answered_within_promise": None,
        "avg_first_response_minutes": -3.5,
        "avg_resolution_hours": None,
        "csat": None,
        "surveys_answered": 0,
        "by_category": {"=cmd|' /C calc'!A0": 1},
        "by_channel": {"rest": 1},
        "by_status": {"new": 1},
        "agents": [],
    }
    cells = [cell for row in csv.reader(io.StringIO(to_csv(report).lstrip("\ufeff"))) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "-3.5" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r")) or (c.startswith("-") and c != "-3.5")]
