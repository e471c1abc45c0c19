"""`kefu bills import`: every row checked, all rows or none, safe to repeat."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import ROOT
from desk.db import make_engine
from desk.models import Bill

HEADER = "customer_id,channel,address,kind,amount,due_date,period\n"
GOOD = (HEADER
        + "wechat:oA1,wechat,oA1,物业费,268.50,2026-12-10,2026-12\n"
        + "sms:13812345678,sms,138 1234 5678,水电费,86,2026-12-15,2026-11\n"
        + "taobao:tb_buyer,taobao,tb_buyer,租金,3200.00,2026-12-01,2026-12\n")


@pytest.fixture()
def db_url(migrated_database_url):
    return migrated_database_url


def run_import(db_url: str, path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kefu.cli", "bills", "import", str(path)], cwd=ROOT,
                          env={**os.environ, "KEFU_DATABASE_URL": db_url}, capture_output=True, text=True)


def bills(db_url: str) -> list:
    with Session(make_engine(db_url)) as session:
        return [(b.customer_id, b.address, b.amount_cents, str(b.due_date), b.status)
                for b in session.execute(select(Bill).order_by(Bill.id)).scalars()]


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
    path.write_text(HEADER
                    + "wechat:oA1,wechat,oA1,物业费,268.50,2026-12-10,2026-12\n"
                    + "wechat:oB2,fax,oB2,物业费,100,2026-12-10,2026-12\n"
                    + "sms:x,sms,12345,水电费,abc,2026-13-01,2026-11\n"
                    + "wechat:oA1,wechat,oA1,物业费,268.50,2026-12-10,2026-12\n", encoding="utf-8")
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
    changed.write_text(GOOD.replace("268.50", "300.00") + "wechat:oC3,wechat,oC3,停车费,150,2026-12-05,2026-12\n",
                       encoding="utf-8")
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
    assert result.returncode == 1 and "not UTF-8" in result.stderr
