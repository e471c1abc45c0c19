"""The reminder engine on a real database (SQLite and PostgreSQL) against the
fake TOP gateway and fake WeChat API: planning, quiet hours, stop conditions,
exactly-once bookkeeping and lease recovery."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from kefu.clients.top_api import TopAPI, TopConfig
from kefu.clients.wechat_api import WeChatAPI
from kefu.core.bills import mark_paid
from kefu.core.conversations import record_handoff
from kefu.core.db import make_engine
from kefu.core.facts import FactKind, record_fact
from kefu.core.models import SHANGHAI, Bill, Order, Reminder
from kefu.core.reminder_outbox import claim, counts, mark_sending
from kefu.reminders.plan import decide
from kefu.reminders.policy import DATA_FILE, PolicyError, QuietHours, load_policies, parse_policies
from kefu.reminders.send import Senders
from kefu.reminders.worker import ReminderWorker, WorkerSettings
from tests.support.stack import new_sender

MORNING = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture()
def top():
    from tests.support.fake_top_api import FakeTopAPI

    return FakeTopAPI().start()


@pytest.fixture()
def sessions(migrated_database_url):
    engine = make_engine(migrated_database_url)
    yield sessionmaker(engine, future=True, expire_on_commit=False)
    engine.dispose()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def add_order(
    sessions, order_id: str, buyer: str, minutes_ago: int, now=MORNING, shop="小米粒旗舰店", cents=9950
) -> int:
    with sessions() as s:
        order = Order(
            platform="taobao",
            order_id=order_id,
            shop=shop,
            buyer=buyer,
            amount_cents=cents,
            status="unpaid",
            created_at=now - timedelta(minutes=minutes_ago),
        )
        s.add(order)
        s.commit()
        return order.id


def rows(sessions, **where):
    with sessions() as s:
        query = select(Reminder).order_by(Reminder.id)
        for key, value in where.items():
            query = query.where(getattr(Reminder, key) == value)
        return list(s.execute(query).scalars())


def run_worker(sessions, top, clock, policies=None, wechat_url=None, **settings):
    async def go():
        senders = Senders(
            top=TopAPI(TopConfig("app", top.secret, "sess", top.url)),
            wechat=WeChatAPI(wechat_url, "wxapp", "secret") if wechat_url else None,
        )
        worker = ReminderWorker(sessions, senders, policies or load_policies(), WorkerSettings(**settings), clock=clock)
        try:
            return await worker.run_round()
        finally:
            await senders.close()

    return asyncio.run(go())


# -- policy data ---------------------------------------------------------------
def test_quiet_hours_wrap_midnight_in_china_time():
    quiet = QuietHours.parse("22:00-08:00", "test")
    assert quiet.contains(datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI))
    assert quiet.contains(datetime(2026, 11, 26, 7, 59, tzinfo=SHANGHAI))
    assert not quiet.contains(datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI))
    # 15:00 UTC is 23:00 in Shanghai.
    late = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)
    assert quiet.contains(late)
    assert quiet.next_allowed(late) == datetime(2026, 11, 27, 8, 0, tzinfo=SHANGHAI)
    assert QuietHours.parse("none", "t").contains(late) is False


def test_policy_file_errors_name_the_place(tmp_path: Path):
    with pytest.raises(PolicyError, match="quiet_hours"):
        parse_policies(
            {
                "orders": {
                    "default": {"max_reminders": 1, "min_gap_minutes": 1, "templates": {}, "quiet_hours": "late"}
                },
                "bills": {"default": {"max_reminders": 1, "min_gap_minutes": 1, "templates": {}}},
            }
        )
    with pytest.raises(PolicyError, match="unknown key"):
        parse_policies(
            {
                "orders": {"default": {"max_reminders": 1, "min_gap_minutes": 1, "templates": {}, "max_reminder": 3}},
                "bills": {"default": {"max_reminders": 1, "min_gap_minutes": 1, "templates": {}}},
            }
        )
    policies = load_policies()
    assert policies.for_order("示例旗舰店").max_reminders == 1
    assert policies.for_order("别的店").name == "orders.default"
    assert policies.for_bill("租金").first_offset_days == -5
    assert "wechat" in policies.for_bill("租金").templates  # inherited


# -- planning and sending ---------------------------------------------------------
def test_unpaid_order_gets_one_polite_reminder_once(sessions, top):
    add_order(sessions, "3001", "买家-once", minutes_ago=40)
    add_order(sessions, "3002", "买家-fresh", minutes_ago=10)  # too early
    report = run_worker(sessions, top, Clock(MORNING))
    assert report.planned == 1 and report.sent == 1
    [message] = top.sent_to("买家-once")
    assert "3001" in message["content"] and "¥99.50" in message["content"] and "亲" in message["content"]
    assert message["seller_nick"] == "小米粒旗舰店"
    assert top.sent_to("买家-fresh") == []
    # Another round at once: nothing more (gap 12 h), and nothing twice.
    run_worker(sessions, top, Clock(MORNING + timedelta(minutes=5)))
    assert len(top.sent_to("买家-once")) == 1
    # After the gap the second and last reminder goes out; then never again.
    run_worker(sessions, top, Clock(MORNING + timedelta(hours=13)))
    run_worker(sessions, top, Clock(MORNING + timedelta(hours=30)))
    assert len(top.sent_to("买家-once")) == 2
    assert [r.seq for r in rows(sessions, customer_id="taobao:买家-once")] == [1, 2]
    assert {r.status for r in rows(sessions, customer_id="taobao:买家-once")} == {"sent"}


def test_nothing_at_night_and_the_reminder_goes_out_after_quiet_hours(sessions, top):
    night = datetime(2026, 11, 26, 23, 10, tzinfo=SHANGHAI)
    add_order(sessions, "3101", "买家-night", minutes_ago=45, now=night)
    report = run_worker(sessions, top, Clock(night))
    assert report.planned == 1 and report.sent == 0
    [row] = rows(sessions, customer_id="taobao:买家-night")
    assert row.status == "pending" and row.due_at == datetime(2026, 11, 27, 8, 0, tzinfo=SHANGHAI)
    run_worker(sessions, top, Clock(datetime(2026, 11, 27, 7, 59, tzinfo=SHANGHAI)))
    assert top.sent_to("买家-night") == []
    run_worker(sessions, top, Clock(datetime(2026, 11, 27, 8, 0, 30, tzinfo=SHANGHAI)))
    assert len(top.sent_to("买家-night")) == 1


def test_a_row_claimed_just_before_quiet_hours_waits_for_the_morning(sessions, top):
    evening = datetime(2026, 11, 26, 21, 59, tzinfo=SHANGHAI)
    add_order(sessions, "3111", "买家-edge", minutes_ago=45, now=evening)
    clock = Clock(evening)
    run_worker(sessions, top, clock, batch=0)  # planned at 21:59, nothing claimed
    clock.now = datetime(2026, 11, 26, 22, 0, 5, tzinfo=SHANGHAI)
    report = run_worker(sessions, top, clock)
    assert report.held == 1 and top.sent_to("买家-edge") == []
    [row] = rows(sessions, customer_id="taobao:买家-edge")
    assert row.status == "pending" and row.due_at == datetime(2026, 11, 27, 8, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("what", ["paid", "closed", "already_paid", "stop", "handoff", "pay_later"])
def test_stop_conditions_between_planning_and_sending(sessions, top, what):
    buyer = f"买家-{what}"
    order_pk = add_order(sessions, f"32{len(what)}0", buyer, minutes_ago=40)
    clock = Clock(MORNING)
    run_worker(sessions, top, clock, batch=0)  # queued, not sent yet
    assert len(rows(sessions, customer_id=f"taobao:{buyer}", status="pending")) == 1
    with sessions() as s:
        if what in ("paid", "closed"):
            s.execute(update(Order).where(Order.id == order_pk).values(status=what))
            s.commit()
        elif what == "handoff":
            record_handoff(
                s,
                channel="taobao",
                customer_id=f"taobao:{buyer}",
                intent="request_human",
                reason="asked",
                last_message="转人工",
            )
        else:
            kind = {
                "already_paid": FactKind.already_paid,
                "stop": FactKind.stop_reminders,
                "pay_later": FactKind.pay_later,
            }[what]
            record_fact(
                s, channel="taobao", customer_id=f"taobao:{buyer}", kind=kind, text="…", source_message_id=f"m-{what}"
            )
    report = run_worker(sessions, top, clock)
    assert report.cancelled == 1 and top.sent_to(buyer) == []
    [row] = rows(sessions, customer_id=f"taobao:{buyer}")
    assert row.status == "cancelled" and row.error
    # The planner does not queue it again while the condition holds.
    run_worker(sessions, top, Clock(MORNING + timedelta(hours=13)))
    assert top.sent_to(buyer) == []


def test_pay_later_pauses_then_reminders_resume(sessions, top):
    # The fact is stored with the real time, so this test runs on real time too.
    now = datetime.now(SHANGHAI)
    add_order(sessions, "3301", "买家-later", minutes_ago=40, now=now)
    with sessions() as s:
        record_fact(
            s,
            channel="taobao",
            customer_id="taobao:买家-later",
            kind=FactKind.pay_later,
            text="晚点付",
            source_message_id="m-later",
        )
        [d] = [d for d in decide(s, load_policies(), now) if d.label == "3301"]
        assert not d.plan and "pay later" in d.reason
        [d] = [d for d in decide(s, load_policies(), now + timedelta(hours=25)) if d.label == "3301"]
        assert d.plan, d.reason


def test_fee_bill_reminder_before_due_date_on_wechat(sessions, top, wechat_api):
    one, two = new_sender("openid-bill"), new_sender("openid-bill")  # the fake API is shared
    with sessions() as s:
        s.add(
            Bill(
                customer_id="A-1201",
                channel="wechat",
                address=one,
                kind="物业费",
                amount_cents=26850,
                due_date=date(2026, 11, 29),
                period="2026年11月",
            )
        )
        s.add(
            Bill(
                customer_id="A-1202",
                channel="wechat",
                address=two,
                kind="物业费",
                amount_cents=100,
                due_date=date(2026, 12, 20),
                period="2026年11月",
            )
        )
        s.commit()
    run_worker(sessions, top, Clock(MORNING), wechat_url=wechat_api.url)
    [call] = wechat_api.sent_to(one)
    assert "物业费" in call["body"]["text"]["content"] and "268.50" in call["body"]["text"]["content"]
    assert "2026年11月29日" in call["body"]["text"]["content"]
    assert wechat_api.sent_to(two) == []  # due in 3+ weeks
    # Paid: the next reminder (3 days later) is not queued.
    with sessions() as s:
        assert mark_paid(s, "A-1201", "物业费", "2026年11月")
    run_worker(sessions, top, Clock(MORNING + timedelta(days=4)), wechat_url=wechat_api.url)
    assert len(wechat_api.sent_to(one)) == 1


def test_refused_by_the_platform_is_retried_then_failed(sessions, top):
    add_order(sessions, "3401", "refuse-buyer", minutes_ago=40)
    clock = Clock(MORNING)
    run_worker(sessions, top, clock)
    [row] = rows(sessions, customer_id="taobao:refuse-buyer")
    assert row.status == "pending" and row.attempts == 1 and "buyer-refused" in row.error
    for minutes in (6, 20):
        clock.now = MORNING + timedelta(minutes=minutes)
        run_worker(sessions, top, clock)
    [row] = rows(sessions, customer_id="taobao:refuse-buyer")
    assert row.status == "failed" and row.attempts == 3


def test_template_passes_the_advertising_law_filter(sessions, top, tmp_path, monkeypatch):
    policy_file = tmp_path / "policies.yml"
    policy_file.write_text(
        DATA_FILE.read_text(encoding="utf-8").replace("宝贝已为您预留", "全网最低价的宝贝已为您预留"), encoding="utf-8"
    )
    monkeypatch.setenv("KEFU_REMINDER_POLICIES", str(policy_file))
    add_order(sessions, "3501", "买家-adlaw", minutes_ago=40)
    run_worker(sessions, top, Clock(MORNING), policies=load_policies())
    [message] = top.sent_to("买家-adlaw")
    assert "最低价" not in message["content"] and "宝贝已为您预留" in message["content"]


# -- leases -----------------------------------------------------------------------------
def test_dead_workers_rows_claimed_go_back_sending_become_uncertain(sessions, top):
    for n in range(4):
        add_order(sessions, f"36{n}0", f"买家-lease-{n}", minutes_ago=40)
    clock = Clock(MORNING)
    run_worker(sessions, top, clock, batch=0)
    with sessions() as s:
        # A worker claims two rows and dies; another claims two, marks them
        # sending (the platform call may have happened) and dies.
        a = claim(s, "dead-a", clock(), 2, timedelta(seconds=30))
        b = claim(s, "dead-b", clock(), 2, timedelta(seconds=30))
        mark_sending(s, "dead-b", [r.id for r in b], clock(), timedelta(seconds=30))
    assert len(a) == 2 and len(b) == 2
    run_worker(sessions, top, clock)  # leases still valid: nothing to do
    assert sum(len(top.sent_to(f"买家-lease-{n}")) for n in range(4)) == 0
    clock.now += timedelta(seconds=31)
    report = run_worker(sessions, top, clock)
    assert report.recovered == 4 and report.sent == 2
    with sessions() as s:
        assert counts(s) == {"sent": 2, "uncertain": 2}
    uncertain = rows(sessions, status="uncertain")
    assert {r.id for r in uncertain} == {r.id for r in b} and "check" in uncertain[0].error
    # Uncertain rows are never sent again, and do not let the planner queue a duplicate now.
    run_worker(sessions, top, Clock(MORNING + timedelta(minutes=10)))
    assert sum(len(top.sent_to(f"买家-lease-{n}")) for n in range(4)) == 2


# -- the commands -------------------------------------------------------------------
@pytest.mark.e2e  # the `kefu` CLI as a subprocess
def test_preview_list_and_bills_paid_commands(tmp_path):
    import subprocess
    import sys

    from kefu.core.db import upgrade
    from tests.support.stack import ROOT

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(SHANGHAI)
    with sessionmaker(engine, future=True)() as s:
        s.add(
            Order(
                platform="tmall",
                order_id="778899",
                shop="小店",
                buyer="买家-cli",
                amount_cents=5000,
                status="unpaid",
                created_at=now - timedelta(minutes=45),
            )
        )
        s.add(
            Bill(
                customer_id="B-0808",
                channel="sms",
                address="13900001111",
                kind="停车费",
                amount_cents=30000,
                due_date=now.date() + timedelta(days=1),
                period="2026年12月",
            )
        )
        s.commit()
    env = {**__import__("os").environ, "KEFU_DATABASE_URL": url}

    def kefu(*args):
        return subprocess.run(
            [sys.executable, "-m", "kefu.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )

    out = kefu("reminders", "preview").stdout
    assert "2 reminder(s) would be queued" in out, out
    assert "SEND order 778899 -> tmall:买家-cli #1" in out and "¥50.00" in out
    assert "SEND bill 停车费 2026年12月 -> sms:13900001111" in out
    assert kefu("bills", "paid", "B-0808", "停车费", "2026年12月").returncode == 0
    out = kefu("reminders", "preview").stdout
    assert "1 reminder(s) would be queued" in out and "停车费" not in out
    missing = kefu("bills", "paid", "B-0808", "停车费", "2027年1月")
    assert missing.returncode == 1 and "no bill" in missing.stderr
    assert "outbox: empty" in kefu("reminders", "list").stdout  # preview queues nothing
    bad = tmp_path / "bad.yml"
    bad.write_text("orders: {}\n", encoding="utf-8")
    env["KEFU_REMINDER_POLICIES"] = str(bad)
    broken = kefu("reminders", "preview")
    assert broken.returncode == 2 and "orders.default" in broken.stderr
    # Not UTF-8, in the policy file or an argument: a clear error and exit code 2, no traceback.
    bad.write_bytes("orders: {default: {templates: {taobao: 亲}}}\n".encode("gbk"))
    broken = kefu("reminders", "preview")
    assert broken.returncode == 2 and "not UTF-8" in broken.stderr and "Traceback" not in broken.stderr
    broken = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "reminders", "list", "--status", b"sent\xff"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 2 and "status is not valid UTF-8" in broken.stderr, broken.stderr


def test_a_worker_that_stalled_past_its_lease_does_not_send_what_another_took_over(sessions, top):
    add_order(sessions, "3701", "买家-stall", minutes_ago=40)
    clock = Clock(MORNING)
    run_worker(sessions, top, clock, batch=0)
    with sessions() as s:
        [row] = claim(s, "stalled", clock(), 10, timedelta(seconds=30))
    clock.now += timedelta(seconds=31)  # its lease runs out ...
    run_worker(sessions, top, clock)  # ... another worker recovers and sends it
    assert len(top.sent_to("买家-stall")) == 1
    with sessions() as s:  # the stalled worker wakes up
        assert mark_sending(s, "stalled", [row.id], clock(), timedelta(seconds=30)) == set()
    assert [r.status for r in rows(sessions, customer_id="taobao:买家-stall")] == ["sent"]


@pytest.mark.parametrize("buyer", ["isp-buyer", "bad-gateway-buyer"])
def test_platform_failures_after_the_call_are_uncertain_never_retried(sessions, top, buyer):
    add_order(sessions, "3801", buyer, minutes_ago=40)
    clock = Clock(MORNING)
    report = run_worker(sessions, top, clock)
    assert report.uncertain == 1
    [row] = rows(sessions, customer_id=f"taobao:{buyer}")
    assert row.status == "uncertain" and row.attempts == 0
    for minutes in (6, 20, 60):
        clock.now = MORNING + timedelta(minutes=minutes)
        run_worker(sessions, top, clock)
    # The one call that may have reached the buyer, never a second.
    assert len(top.calls_to(buyer)) == 1
    assert [r.status for r in rows(sessions, customer_id=f"taobao:{buyer}")] == ["uncertain"]
