"""WeChat official account channel, driven from an independent WeChat side.

Requests are signed and encrypted with wechatpy's own classes, posted over
HTTP to the running Rasa server, and replies are decrypted the same way.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.utils import WeChatSigner

from tests.support.agents import add_agent, login
from tests.support.platforms import WECHAT_TOKEN, wechat_env
from tests.support.stack import Stack, auth, http, start_stack, stop_stack, user_texts, wait_for
from tests.support.waiting import wait_until, wait_until_quiet
from tests.support.wechat import event_xml, new_openid, post, sign, text_xml, url

pytestmark = pytest.mark.e2e  # starts its own stack


def quiet_sent_to(stack: Stack, wechat_api, openid: str) -> list:
    """The 客服消息 calls to openid once nothing more can come: the customer's
    turns are over (the tracker is back to listening after the last user
    message, so every answer has been handed to the sender) and no call has
    been added for a second. For "exactly once" checks."""

    def snapshot():
        status, tracker = stack.rasa_api("GET", f"/conversations/wechat:{openid}/tracker")
        events = tracker["events"] if status == 200 else []
        users = sum(1 for e in events if e["event"] == "user")
        listening = bool(events) and events[-1]["event"] == "action" and events[-1].get("name") == "action_listen"
        return len(wechat_api.sent_to(openid)), users, listening

    wait_until_quiet(
        snapshot,
        idle=lambda snap: snap[1] >= 1 and snap[2],
        settle=1.0,
        timeout=60,
        message=f"turns of wechat:{openid} finished and 客服消息 calls settled",
    )
    return wechat_api.sent_to(openid)


def test_url_verification_answers_echostr_only_when_signed(stack: Stack):
    ts, nonce = str(int(time.time())), "abc"
    ok = http("GET", f"{url(stack)}?signature={sign(ts, nonce)}&timestamp={ts}&nonce={nonce}&echostr=hello123")
    assert ok == (200, "hello123")
    bad = http("GET", f"{url(stack)}?signature=deadbeef&timestamp={ts}&nonce={nonce}&echostr=hello123")
    assert bad[0] == 403


def test_encrypted_message_gets_encrypted_passive_reply(stack: Stack):
    openid = new_openid()
    status, reply = post(stack, text_xml(openid, "亲，在吗"))
    assert status == 200
    assert reply["MsgType"] == "text" and reply["ToUserName"] == openid
    assert "您好" in reply["Content"]
    assert user_texts(stack, f"wechat:{openid}") == ["亲，在吗"]


def test_plaintext_mode_reply_is_plaintext(stack: Stack):
    openid = new_openid()
    status, reply = post(stack, text_xml(openid, "物业费在哪里交"), encrypt=False)
    assert status == 200 and "生活缴费" in reply["Content"]


def test_retried_message_is_answered_once(stack: Stack, agent_token: str):
    openid = new_openid()
    msg_id = uuid.uuid4().int % 10**18
    xml = text_xml(openid, "快递一直不到，物流太慢了，我要投诉", msg_id=msg_id)
    # The claim, read without an ORM round trip so the moment is not missed:
    # None (not claimed yet), 0 (being answered), 1 (answered).
    db = sqlite3.connect(stack.database_url.split("sqlite:///", 1)[1], timeout=30)

    def claim_state():
        row = db.execute(
            "SELECT finished FROM channel_deliveries WHERE channel = 'wechat' AND dedup_key = ?", (f"msg:{msg_id}",)
        ).fetchone()
        return None if row is None else int(row[0])

    go = threading.Event()

    def retry():
        go.wait(60)
        status, reply = post(stack, xml)
        return status, reply

    try:
        with ThreadPoolExecutor(3) as pool:
            retried = [pool.submit(retry) for _ in range(2)]  # ready and waiting
            first = pool.submit(post, stack, xml)
            # WeChat's retries arrive while the first delivery is being
            # answered: its claim is there and unfinished.
            wait_until(
                lambda: claim_state() == 0 or first.done(),
                timeout=60,
                interval=0.002,
                message="the first delivery is being answered",
            )
            seen_in_flight = claim_state() == 0
            go.set()
            retries = [f.result() for f in retried]
            # Claims only go from unfinished to finished: still unfinished now
            # means it was unfinished while both retries were answered.
            still_in_flight = claim_state() == 0
            status, reply = first.result()
    finally:
        go.set()
        db.close()
    assert status == 200 and isinstance(reply, dict) and "工单号" in reply["Content"], reply
    assert seen_in_flight, "the first delivery was answered before it could be seen in flight"
    # Retries that came while it was being answered: "retry later" (503),
    # never "success", which would end WeChat's retries if that server died;
    # never a second answer either.
    assert all((s, r) == (200, "success") or s == 503 for s, r in retries), retries
    if still_in_flight:
        assert [s for s, _ in retries] == [503, 503], retries
    assert any(s == 503 for s, _ in retries), retries
    assert post(stack, xml) == (200, "success")  # a retry after the answer
    assert user_texts(stack, f"wechat:{openid}") == ["快递一直不到，物流太慢了，我要投诉"]
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id=wechat:{openid}", headers=auth(agent_token))
    assert len(body["tickets"]) == 1 and body["tickets"][0]["channel"] == "wechat"


def test_subscribe_is_welcomed_and_media_answered_politely(stack: Stack):
    openid = new_openid()
    assert "欢迎关注" in post(stack, event_xml(openid, "subscribe"))[1]["Content"]
    image = text_xml(
        openid,
        "",
        msg_type="image",
        extra="<PicUrl><![CDATA[http://example.invalid/a.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>",
    )
    # An id WeChat does not know (the fake's 40007): the reference is kept, and acknowledged.
    assert post(stack, image)[1]["Content"] == "已收到您的图片，客服会尽快查看。"
    location = text_xml(
        openid,
        "",
        msg_type="location",
        extra="<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label><![CDATA[x]]></Label>",
    )
    assert "位置已收到" in post(stack, location)[1]["Content"]
    voice = text_xml(
        openid,
        "",
        msg_type="voice",
        extra="<MediaId><![CDATA[v1]]></MediaId><Format><![CDATA[amr]]></Format>"
        "<Recognition><![CDATA[你好]]></Recognition>",
    )
    assert "您好" in post(stack, voice)[1]["Content"]
    assert user_texts(stack, f"wechat:{openid}") == ["你好"]  # only the recognised voice


def test_handoff_keeps_bot_silent_and_unsubscribe_closes(stack: Stack):
    from kefu.core.models import Conversation

    openid = new_openid()
    assert "转接人工" in post(stack, text_xml(openid, "转人工"))[1]["Content"]
    assert post(stack, text_xml(openid, "你好"))[1] == "success"
    assert post(stack, event_xml(openid, "unsubscribe"))[1] == "success"
    from kefu.core.db import make_engine

    with Session(make_engine(stack.database_url)) as session:
        statuses = (
            session.execute(select(Conversation.status).where(Conversation.customer_id == f"wechat:{openid}"))
            .scalars()
            .all()
        )
    assert statuses == ["closed"]


@pytest.mark.parametrize(
    "case",
    [
        "wrong_signature",
        "old_timestamp",
        "not_xml",
        "broken_xml",
        "too_big",
        "entity_expansion",
        "encrypted_entity_expansion",
        "external_entity",
        "bad_aes",
    ],
)
def test_bad_input_is_refused_without_reaching_the_bot(stack: Stack, case: str):
    openid = new_openid()
    xml = text_xml(openid, "你好")
    if case == "wrong_signature":
        status, _ = post(stack, xml, token="not-the-token")
        expected = 403
    elif case == "old_timestamp":
        status, _ = post(stack, xml, timestamp=str(int(time.time()) - 600))
        expected = 403
    elif case == "not_xml":
        status, _ = post(stack, "", encrypt=False, raw=b'{"json": true}')
        expected = 400
    elif case == "broken_xml":
        status, _ = post(stack, "", encrypt=False, raw=b"<xml><FromUserName>x</xml")
        expected = 400
    elif case == "too_big":
        status, _ = post(stack, "", encrypt=False, raw=b"<xml>" + b"a" * (1024 * 1024 + 10) + b"</xml>")
        expected = 413
    elif case in ("entity_expansion", "encrypted_entity_expansion"):
        bomb = (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            f"<xml><FromUserName>{openid}</FromUserName><MsgType>text</MsgType>"
            "<Content>&lol2;</Content><MsgId>1</MsgId></xml>"
        )
        status, _ = post(stack, bomb, encrypt=case.startswith("encrypted"))
        expected = 400
    elif case == "external_entity":
        xxe = (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f"<xml><FromUserName>{openid}</FromUserName><MsgType>text</MsgType>"
            "<Content>&e;</Content><MsgId>2</MsgId></xml>"
        )
        status, _ = post(stack, xxe, encrypt=True)
        expected = 400
    else:  # bad_aes: valid signature over garbage ciphertext
        import urllib.parse

        ts, nonce, enc = str(int(time.time())), "n1", "bm90LWFlcw=="
        signer = WeChatSigner()
        signer.add_data(WECHAT_TOKEN, ts, nonce, enc)
        params = {
            "signature": sign(ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": signer.signature,
        }
        status, _ = http(
            "POST",
            f"{url(stack)}?{urllib.parse.urlencode(params)}",
            raw=f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode(),
        )
        expected = 400
    assert status == expected
    status, tracker = stack.rasa_api("GET", f"/conversations/wechat:{openid}/tracker")
    assert [e for e in tracker["events"] if e["event"] == "user"] == []
    # and the server still answers
    assert "您好" in post(stack, text_xml(new_openid(), "你好"))[1]["Content"]


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory, wechat_api):
    """Reply budget far below any real turn, and no timestamp-age check so
    Tencent's recorded 2014 sample message is accepted."""
    running = start_stack(
        tmp_path_factory.mktemp("wechat_slow"),
        wechat_env(wechat_api.url, WECHAT_REPLY_BUDGET_SECONDS="0.001", WECHAT_TIMESTAMP_TOLERANCE_SECONDS="0"),
    )
    yield running
    stop_stack(running)


TENCENT_ENCRYPT = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="


def test_tencent_sample_vector_decrypts_through_the_channel(slow_stack: Stack, wechat_api):
    import urllib.parse

    ts, nonce = "1409735669", "1320562132"
    params = {
        "signature": sign(ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    }
    body = f"<xml><ToUserName><![CDATA[wx2c2769f8efd9abc2]]></ToUserName><Encrypt><![CDATA[{TENCENT_ENCRYPT}]]></Encrypt></xml>"
    started = time.monotonic()
    status, reply = http("POST", f"{url(slow_stack)}?{urllib.parse.urlencode(params)}", raw=body.encode())
    assert (status, reply) == (200, "success")
    assert time.monotonic() - started < 5
    openid = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert wait_for(lambda: len(wechat_api.sent_to(openid)) >= 1)
    assert len(quiet_sent_to(slow_stack, wechat_api, openid)) == 1  # exactly one 客服消息 call
    assert user_texts(slow_stack, f"wechat:{openid}") == ["abcdteT"]
    status, tracker = slow_stack.rasa_api("GET", f"/conversations/wechat:{openid}/tracker")
    [user] = [e for e in tracker["events"] if e["event"] == "user"]
    assert user["message_id"] == "wechat-6054768590064713728"


def test_slow_reply_goes_out_once_through_customer_service_api(slow_stack: Stack, wechat_api):
    openid = new_openid()
    started = time.monotonic()
    assert post(slow_stack, text_xml(openid, "物业费在哪里交"))[1] == "success"
    assert time.monotonic() - started < 5
    assert wait_for(lambda: len(wechat_api.sent_to(openid)) >= 1)
    [call] = quiet_sent_to(slow_stack, wechat_api, openid)
    assert call["body"]["msgtype"] == "text" and "生活缴费" in call["body"]["text"]["content"]


def test_expired_token_is_refreshed_once(slow_stack: Stack, wechat_api):
    openid = new_openid("stale-")
    assert post(slow_stack, text_xml(openid, "物业费在哪里交"))[1] == "success"
    assert wait_for(lambda: len(wechat_api.sent_to(openid)) >= 2)
    calls = quiet_sent_to(slow_stack, wechat_api, openid)
    assert len(calls) == 2 and calls[1]["token"] != calls[0]["token"]  # refreshed exactly once


def test_outside_48h_window_is_kept_for_the_desk(slow_stack: Stack, wechat_api):
    from kefu.core.db import make_engine
    from kefu.core.models import UndeliveredMessage

    openid = new_openid("window-")
    assert post(slow_stack, text_xml(openid, "物业费在哪里交"))[1] == "success"
    assert wait_for(lambda: len(wechat_api.sent_to(openid)) >= 1)

    def stored():
        with Session(make_engine(slow_stack.database_url)) as session:
            return (
                session.execute(select(UndeliveredMessage).where(UndeliveredMessage.customer_id == f"wechat:{openid}"))
                .scalars()
                .all()
            )

    assert wait_for(lambda: len(stored()) == 1)
    assert stored()[0].error == "outside_48h_window" and "生活缴费" in stored()[0].text
    # ... and the desk shows it

    token = login(slow_stack.desk_url, *add_agent(slow_stack.env, prefix="a"))
    status, body = http(
        "GET", f"{slow_stack.desk_url}/api/undelivered?customer_id=wechat:{openid}", headers=auth(token)
    )
    assert status == 200 and [u["error"] for u in body["undelivered"]] == ["outside_48h_window"]


def test_agent_reply_from_desk_reaches_wechat_customer(stack: Stack, agent_token: str, wechat_api):
    openid = new_openid()
    post(stack, text_xml(openid, "转人工"))
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(agent_token))
    [conv] = [c for c in body["conversations"] if c["customer_id"] == f"wechat:{openid}"]
    status, body = http(
        "POST",
        f"{stack.desk_url}/api/conversations/{conv['id']}/reply",
        {"text": "您好，我是客服小李，我们的服务绝对是顶级的，马上为您处理。"},
        headers=auth(agent_token),
    )
    assert status == 200, body
    assert body["conversation"]["status"] == "assigned"
    # The advertising-law check rewrote the agent's 极限词 before sending.
    expected = "您好，我是客服小李，我们的服务确实是高品质的，马上为您处理。"
    assert body["sent_text"] == expected
    assert wait_for(lambda: len(wechat_api.sent_to(openid)) == 1)
    assert wechat_api.sent_to(openid)[0]["body"]["text"]["content"] == expected
    # the customer's next message still does not wake the bot
    assert post(stack, text_xml(openid, "好的"))[1] == "success"
    assert (
        http(
            "POST", f"{stack.desk_url}/api/conversations/{conv['id']}/reply", {"text": " "}, headers=auth(agent_token)
        )[0]
        == 400
    )


def test_retry_to_two_server_processes_is_answered_once(stack: Stack, tmp_path_factory, wechat_api, agent_token: str):
    """A second `kefu run` sharing the desk database and tracker store."""
    second = start_stack(
        tmp_path_factory.mktemp("second"),
        {
            **wechat_env(wechat_api.url),
            "KEFU_DATABASE_URL": stack.database_url,
            "KEFU_TRACKER_DB": stack.env["KEFU_TRACKER_DB"],
        },
    )
    try:
        openid = new_openid()
        xml = text_xml(openid, "发错货了还不给退，我要投诉", msg_id=uuid.uuid4().int % 10**18)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda s: post(s, xml), [stack, second, stack, second]))
        assert all(status in (200, 503) for status, _ in results), results
        assert len([r for status, r in results if status == 200 and isinstance(r, dict)]) == 1
        assert post(second, xml) == (200, "success")
        assert user_texts(stack, f"wechat:{openid}") == ["发错货了还不给退，我要投诉"]
        status, body = http(
            "GET", f"{stack.desk_url}/api/tickets?customer_id=wechat:{openid}", headers=auth(agent_token)
        )
        assert len(body["tickets"]) == 1
    finally:
        stop_stack(second)


def test_a_message_whose_server_died_mid_turn_is_answered_on_a_retry(stack: Stack):
    """The claim a killed server left behind (written here as it would be)
    makes an immediate retry wait (503: WeChat retries), and a retry after the
    reply budget takes it over and answers: the message is not lost."""
    from datetime import timedelta

    from sqlalchemy import update

    from kefu.core.db import make_engine
    from kefu.core.models import ChannelDelivery, utcnow

    openid = new_openid()
    msg_id = uuid.uuid4().int % 10**18
    xml = text_xml(openid, "请问几天能发货", msg_id=msg_id)
    engine = make_engine(stack.database_url)
    with Session(engine) as session:
        session.add(ChannelDelivery(channel="wechat", dedup_key=f"msg:{msg_id}", finished=False, claimed_at=utcnow()))
        session.commit()
    assert post(stack, xml)[0] == 503
    assert user_texts(stack, f"wechat:{openid}") == []
    # WeChat's next retry comes 5 s later, past the 4 s reply budget: age the
    # claim by that much instead of sleeping (the server compares claimed_at
    # with its clock; nothing else changes with time here).
    with Session(engine) as session:
        session.execute(
            update(ChannelDelivery)
            .where(ChannelDelivery.dedup_key == f"msg:{msg_id}")
            .values(claimed_at=utcnow() - timedelta(seconds=5.5))
        )
        session.commit()
    status, reply = post(stack, xml)
    assert status == 200 and isinstance(reply, dict) and reply["Content"], reply
    assert user_texts(stack, f"wechat:{openid}") == ["请问几天能发货"]
    assert post(stack, xml) == (200, "success")
    engine.dispose()


def test_a_late_reply_that_fails_still_tells_the_customer(slow_stack: Stack, wechat_api):
    """WeChat got "success" at once (reply budget passed), so it will not
    retry: when the turn then fails (here the action server dies during the
    complaint's action call) the customer gets the busy text through the
    客服消息 API instead of silence. Last in the module: it kills the action
    server, which `kefu run` starts again."""
    import os
    import signal

    from connectors.rest import SYSTEM_BUSY_REPLY
    from tests.support.processes import pending_request_to, service_pids, serving

    pid_file = Path(slow_stack.env["KEFU_PID_FILE"])
    actions = service_pids(pid_file)["actions"]
    openid = new_openid()
    os.kill(actions, signal.SIGSTOP)
    try:
        assert post(slow_stack, text_xml(openid, "快递太慢了，我要投诉"))[1] == "success"
        assert wait_for(lambda: pending_request_to(int(slow_stack.env["KEFU_ACTIONS_PORT"])), timeout=120)
    finally:
        os.kill(actions, signal.SIGKILL)
    assert wait_for(lambda: wechat_api.sent_to(openid), timeout=120)
    [call] = wechat_api.sent_to(openid)
    assert call["body"]["text"]["content"] == SYSTEM_BUSY_REPLY
    assert wait_for(lambda: service_pids(pid_file)["actions"] != actions, timeout=60)
    assert wait_for(lambda: serving(slow_stack.actions_url), timeout=180)
    # Nothing half-recorded (the customer is asked to send it again). Read
    # only now: a new conversation's tracker runs action_session_start.
    assert user_texts(slow_stack, f"wechat:{openid}") == []
