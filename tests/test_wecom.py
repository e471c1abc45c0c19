"""WeCom 微信客服 channel against a fake kf API on loopback."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import xmltodict

from tests.support.stack import Stack, http, wait_for
from tests.support.waiting import wait_until_quiet
from tests.support.wecom import CRYPTO, callback, customer_text, url


def claims(stack: Stack, msgids: list) -> tuple:
    """Each message's claim: None (not claimed), False (being answered), True (answered)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine
    from kefu.core.models import ChannelDelivery

    engine = make_engine(stack.database_url)
    try:
        with Session(engine) as session:
            found = dict(
                session.execute(
                    select(ChannelDelivery.dedup_key, ChannelDelivery.finished).where(
                        ChannelDelivery.channel == "wecom", ChannelDelivery.dedup_key.in_(msgids)
                    )
                ).all()
            )
    finally:
        engine.dispose()
    return tuple(found.get(m) for m in msgids)


def wait_quiet(
    stack: Stack, wechat_api, kf: str, msgids: list, customers: list, last_cursor: str | None = None
) -> None:
    """Until the syncs of kf are done: every message answered (its claim is
    finished only after the answer and any transfer went out), a later sync
    has read past all of them (a request with last_cursor, if given), and
    nothing was sent or transferred for a second. "Exactly once" is counted
    after this."""

    def snapshot():
        cursors = [s["cursor"] for s in wechat_api.kf_syncs if s["open_kfid"] == kf]
        transfers = [t for t in wechat_api.kf_transfers if t["open_kfid"] == kf]
        return (claims(stack, msgids), cursors, [len(wechat_api.kf_sent_to(c)) for c in customers], transfers)

    wait_until_quiet(
        snapshot,
        idle=lambda snap: all(f is True for f in snap[0]) and (last_cursor is None or last_cursor in snap[1]),
        settle=1.0,
        timeout=60,
        message=f"syncs of {kf} finished",
    )


def test_verification_decrypts_echostr(stack: Stack):
    ts, nonce = str(int(time.time())), "n1"
    encrypted = xmltodict.parse(CRYPTO.encrypt_message("echo-4711", nonce, ts))["xml"]
    query = urllib.parse.urlencode(
        {"msg_signature": encrypted["MsgSignature"], "timestamp": ts, "nonce": nonce, "echostr": encrypted["Encrypt"]}
    )
    assert http("GET", f"{url(stack)}?{query}") == (200, "echo-4711")
    forged = query.replace(encrypted["MsgSignature"], "0" * 40)
    assert http("GET", f"{url(stack)}?{forged}")[0] == 403


def test_customer_messages_are_synced_answered_once_and_cursor_kept(stack: Stack, wechat_api):
    kf = f"wk{uuid.uuid4().hex[:10]}"
    alice, bob = f"wmA{uuid.uuid4().hex[:8]}", f"wmB{uuid.uuid4().hex[:8]}"
    items = [
        customer_text(alice, "你好"),
        customer_text(alice, "请问您这边需要什么", origin=5),  # a human servicer
        customer_text(bob, "物业费在哪里交"),
    ]
    for item in items:
        wechat_api.queue_kf(kf, item)
    assert callback(stack, kf) == (200, "success")
    assert callback(stack, kf) == (200, "success")  # a second notification: nothing twice
    assert wait_for(lambda: wechat_api.kf_sent_to(alice) and wechat_api.kf_sent_to(bob))
    wait_quiet(stack, wechat_api, kf, [i["msgid"] for i in items], [alice, bob], last_cursor="3")
    assert ["您好" in m["text"]["content"] for m in wechat_api.kf_sent_to(alice)] == [True]
    assert len(wechat_api.kf_sent_to(bob)) == 1 and "物业服务中心" in wechat_api.kf_sent_to(bob)[0]["text"]["content"]
    # The fake is shared by every test of the session: only this test's customers.
    assert all(m["open_kfid"] == kf for m in wechat_api.kf_sent_to(alice) + wechat_api.kf_sent_to(bob))
    # Pages of two: the channel followed has_more, and later syncs start at the saved cursor.
    cursors = [s["cursor"] for s in wechat_api.kf_syncs if s["open_kfid"] == kf]
    assert cursors[:2] == ["", "2"] and cursors[-1] == "3"
    status, tracker = stack.rasa_api("GET", f"/conversations/wecom:{alice}/tracker")
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["你好"]


def test_handoff_moves_session_to_human_queue(stack: Stack, wechat_api):
    kf = f"wk{uuid.uuid4().hex[:10]}"
    carol = f"wmC{uuid.uuid4().hex[:8]}"
    item = customer_text(carol, "转人工")
    wechat_api.queue_kf(kf, item)
    callback(stack, kf)
    assert wait_for(lambda: any(t["external_userid"] == carol for t in wechat_api.kf_transfers))
    wait_quiet(stack, wechat_api, kf, [item["msgid"]], [carol])
    [transfer] = [t for t in wechat_api.kf_transfers if t["external_userid"] == carol]
    assert transfer == {"open_kfid": kf, "external_userid": carol, "service_state": 2}
    assert "转接人工" in wechat_api.kf_sent_to(carol)[0]["text"]["content"]


def test_forged_callback_is_refused(stack: Stack, wechat_api):
    ts = str(int(time.time()))
    encrypted = CRYPTO.encrypt_message("<xml><Event>kf_msg_or_event</Event></xml>", "n", ts)
    query = urllib.parse.urlencode({"msg_signature": "0" * 40, "timestamp": ts, "nonce": "n"})
    assert http("POST", f"{url(stack)}?{query}", raw=encrypted.encode())[0] == 403
    assert http("POST", f"{url(stack)}?{query}", raw=b"not xml")[0] == 400


def test_a_message_whose_server_died_mid_turn_is_answered_by_the_next_sync(stack: Stack, wechat_api):
    """WeCom does not send a pulled message again. The claim a killed server
    left (written here as it would be: unfinished, with the message, older
    than any turn) is taken over by the next sync, on whatever server."""
    import json
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine
    from kefu.core.models import ChannelDelivery, utcnow

    kf = f"wk{uuid.uuid4().hex[:10]}"
    lost, other = f"wmL{uuid.uuid4().hex[:8]}", f"wmO{uuid.uuid4().hex[:8]}"
    item = {"open_kfid": kf, **customer_text(lost, "物业费在哪里交")}
    engine = make_engine(stack.database_url)
    with Session(engine) as session:
        session.add(
            ChannelDelivery(
                channel="wecom",
                dedup_key=item["msgid"],
                finished=False,
                claimed_at=utcnow() - timedelta(minutes=2),
                payload=json.dumps(item),
            )
        )
        session.commit()
    other_item = customer_text(other, "你好")
    wechat_api.queue_kf(kf, other_item)  # somebody writes: a sync runs
    assert callback(stack, kf) == (200, "success")
    assert wait_for(lambda: wechat_api.kf_sent_to(lost) and wechat_api.kf_sent_to(other))
    assert "物业服务中心" in wechat_api.kf_sent_to(lost)[0]["text"]["content"]
    with Session(engine) as session:
        row = session.query(ChannelDelivery).filter_by(dedup_key=item["msgid"]).one()
        assert row.finished and row.payload is None  # the customer's words are not kept
    assert callback(stack, kf) == (200, "success")  # answered once, not again
    # The second sync starts after the first one's cursor ("1") and finds nothing new.
    wait_until_quiet(
        lambda: (
            [s["cursor"] for s in wechat_api.kf_syncs if s["open_kfid"] == kf],
            claims(stack, [item["msgid"], other_item["msgid"]]),
            len(wechat_api.kf_sent_to(lost)),
            len(wechat_api.kf_sent_to(other)),
        ),
        idle=lambda snap: snap[0].count("1") >= 1 and all(f is True for f in snap[1]),
        settle=1.0,
        timeout=60,
        message=f"the second sync of {kf} finished",
    )
    assert len(wechat_api.kf_sent_to(lost)) == 1 and len(wechat_api.kf_sent_to(other)) == 1
    engine.dispose()
