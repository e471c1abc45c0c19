"""`kefu kb import|export`: CSV (with or without Excel's BOM) and XLSX,
all rows or none with line-numbered errors, a known question updated, and
export → import losing nothing; the starter knowledge arrives once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core import kb_files, knowledge
from kefu.core.db import make_engine, upgrade
from kefu.core.models import KbEntry
from tests.support.stack import ROOT

CSV = (
    "question,similar,answer,tags,enabled,answer_taobao\n"
    '包邮吗？,"满多少包邮\n偏远地区包邮吗\n新疆包邮吗",亲，全场满99元包邮（偏远地区除外）。,"物流,运费",1,亲，淘宝订单满99元包邮。\n'
    "怎么退货？,退货流程,请在订单详情申请售后。,售后,否,\n"
)


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, future=True) as s:
        yield s
    engine.dispose()


def entries(session: Session) -> dict[str, KbEntry]:
    return {e.question: e for e in session.execute(select(KbEntry)).scalars()}


def test_csv_with_bom_imports_every_column(session):
    report = kb_files.import_knowledge(session, CSV.encode("utf-8-sig"))
    assert (report.added, report.updated, report.errors) == (2, 0, [])
    found = entries(session)
    shipping = found["包邮吗？"]
    assert shipping.similar == ["满多少包邮", "偏远地区包邮吗", "新疆包邮吗"]
    assert shipping.tags == ["物流", "运费"] and shipping.enabled is True
    assert shipping.variants == {"taobao": "亲，淘宝订单满99元包邮。"}
    assert found["怎么退货？"].enabled is False and found["怎么退货？"].variants == {}
    assert knowledge.revision(session) > 0


def test_a_known_question_is_updated_and_the_same_file_changes_nothing(session):
    kb_files.import_knowledge(session, CSV.encode())
    again = kb_files.import_knowledge(session, CSV.encode())
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    changed = CSV.replace("请在订单详情申请售后。", "请在「我的订单」里申请售后。")
    report = kb_files.import_knowledge(session, changed.encode())
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    assert entries(session)["怎么退货？"].answer == "请在「我的订单」里申请售后。"


def test_any_bad_row_imports_nothing_and_names_its_line(session):
    bad = CSV + ",没有问题,答案,,\n" + "发票？,,,,\n" + "包邮吗？,,重复,,\n" + "积分？,,有,,也许\n"
    report = kb_files.import_knowledge(session, bad.encode())
    assert report.added == 0 and entries(session) == {}
    assert [e.split(":")[0] for e in report.errors] == ["line 4", "line 5", "line 6", "line 7"], report.errors
    assert "line 1" in report.errors[2] or "same question" in report.errors[2]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"question,answer\nx,y\n", "missing: similar,tags"),
        (b"question,similar,answer,tags,colour\n", "unknown: colour"),
        ("question,similar,answer,tags\n发票,,有,\n".encode("gbk"), "not UTF-8"),
        (b"question,similar,answer,tags\nx\x00,,y,\n", "NUL"),
        (b"PK\x03\x04broken", "XLSX"),
        (b"", "header"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_clear_error(session, raw, message):
    with pytest.raises(kb_files.KbFileError, match=message):
        kb_files.import_knowledge(session, raw)


@pytest.mark.parametrize("xlsx", [False, True])
def test_export_then_import_loses_nothing(session, tmp_path, xlsx):
    kb_files.import_knowledge(session, CSV.encode())
    knowledge.add_entry(
        session,
        {"question": "=SUM(A1)算不算公式", "similar": ["a|b 竖线"], "answer": "-不是公式", "tags": ["x,y"]},
        "boss",
    )
    before = {q: knowledge.entry_to_json(e) for q, e in entries(session).items()}
    data = kb_files.export_knowledge(session, xlsx=xlsx)
    assert data.startswith(b"PK\x03\x04") if xlsx else data.startswith("\ufeffquestion,".encode())
    other = tmp_path / "other.db"
    upgrade(f"sqlite:///{other}")
    engine = make_engine(f"sqlite:///{other}")
    with Session(engine, future=True) as fresh:
        report = kb_files.import_knowledge(fresh, data)
        assert report.errors == [] and report.added == 3
        after = {q: knowledge.entry_to_json(e) for q, e in entries(fresh).items()}
    engine.dispose()
    keep = ("question", "similar", "answer", "variants", "tags", "enabled")
    assert {q: {k: v[k] for k in keep} for q, v in after.items()} == {
        q: {k: v[k] for k in keep} for q, v in before.items()
    }


def test_starter_knowledge_arrives_once(session, monkeypatch, tmp_path):
    (tmp_path / "shop.csv").write_text(CSV, encoding="utf-8")
    monkeypatch.setattr(kb_files, "STARTER_DIR", tmp_path)
    assert kb_files.start(session, ("shop", "property")) is True  # property.csv missing here: skipped
    assert set(entries(session)) == {"包邮吗？", "怎么退货？"}
    knowledge.delete_entry(session, entries(session)["包邮吗？"].id)
    assert kb_files.start(session, ("shop",)) is False  # an installation's own edits stay
    assert set(entries(session)) == {"怎么退货？"}


@pytest.mark.e2e  # the command in its own process
def test_the_command_reports_problems_and_exports(tmp_path):
    env = {"KEFU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "KEFU_BUSINESS": "shop", "PATH": "/usr/bin:/bin"}
    good, bad = tmp_path / "kb.csv", tmp_path / "bad.csv"
    good.write_text(CSV, encoding="utf-8")
    bad.write_text(CSV + "发票？,,,,\n", encoding="utf-8")

    def kefu(*args):
        return subprocess.run(
            [sys.executable, "-m", "kefu.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    done = kefu("kb", "import", str(bad))
    assert done.returncode == 1 and "line 4" in done.stderr and "nothing imported" in done.stderr
    done = kefu("kb", "import", str(good))
    assert done.returncode == 0 and "updated" in done.stdout, done.stderr
    assert kefu("kb", "export", str(tmp_path / "out.xlsx")).returncode == 0
    assert (tmp_path / "out.xlsx").read_bytes().startswith(b"PK\x03\x04")
    assert kefu("kb", "import", str(tmp_path / "missing.csv")).returncode == 2
