"""Photos customers send on the platform channels end up on their ticket:
WeChat (signed and encrypted, the file from the fake WeChat API's media/get
on loopback), WeCom (pulled with kf/sync_msg), Taobao (the `pic_url` beside `content`, from allowed hosts
only), and acknowledged on the
customer's own channel."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.media import get_bytes, png_bytes
from tests.support.platforms import wechat_env
from tests.support.stack import ROOT, Stack, auth, http, start_stack, stop_stack, wait_for
from tests.support.taobao import message, new_buyer, signed, texts_to
from tests.support.taobao import post as taobao_post
from tests.support.wechat import new_openid, post, text_xml
from tests.support.wecom import callback

pytestmark = pytest.mark.e2e  # the running stack, and one of its own


def kefu(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=120
    )


def image_xml(openid: str, media_id: str, msg_id: int | None = None) -> str:
    return text_xml(
        openid,
        "",
        msg_id=msg_id,
        msg_type="image",
        extra=f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/{media_id}]]></PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>",
    )


def only_ticket(stack: Stack, token: str, customer_id: str) -> dict:
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={customer_id}", headers=auth(token))
    assert status == 200 and len(body["tickets"]) == 1, body
    return body["tickets"][0]


def test_a_wechat_photo_ends_up_on_the_ticket_page(stack: Stack, agent_token: str, wechat_api):
    openid = new_openid()
    status, reply = post(stack, text_xml(openid, "快递一直不到，物流太慢了，我要投诉"))
    assert status == 200 and "工单号" in reply["Content"], reply
    ticket = only_ticket(stack, agent_token, f"wechat:{openid}")

    media_id = f"png-{uuid.uuid4().hex[:8]}"
    msg_id = uuid.uuid4().int % 10**18
    status, reply = post(stack, image_xml(openid, media_id, msg_id))
    assert status == 200, reply
    assert reply["Content"] == f"已收到您的图片，已补充到工单{ticket['number']}，我们会尽快处理。"
    # Downloaded with the cached access token, not one per message.
    assert [r["media_id"] for r in wechat_api.media_requests].count(media_id) == 1
    assert post(stack, image_xml(openid, media_id, msg_id)) == (200, "success")  # WeChat's retry: kept once

    status, detail = http("GET", f"{stack.desk_url}/api/tickets/{ticket['id']}", headers=auth(agent_token))
    assert status == 200
    [photo] = detail["media"]
    assert photo["kind"] == "image" and photo["content_type"] == "image/png"
    assert any(e["note"] == "客户补充了图片" for e in detail["timeline"])
    status, data, headers = get_bytes(f"{stack.desk_url}{photo['url']}", headers=auth(agent_token))
    assert status == 200 and data == png_bytes() and headers["Content-Type"] == "image/png"
    # Not a page, whatever it held: nothing in it may run.
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]


def test_a_wechat_voice_without_recognition_is_kept_by_its_bytes(stack: Stack, agent_token: str, wechat_api):
    openid = new_openid()
    media_id = f"amr-{uuid.uuid4().hex[:8]}"
    wechat_api.media[media_id] = (b"#!AMR\n" + bytes(200), "audio/amr")
    voice = text_xml(
        openid, "", msg_type="voice", extra=f"<MediaId><![CDATA[{media_id}]]></MediaId><Format><![CDATA[amr]]></Format>"
    )
    status, reply = post(stack, voice)
    assert status == 200 and reply["Content"] == "已收到您的语音，客服会尽快查看。", reply
    status, body = http("GET", f"{stack.desk_url}/api/customers/wechat:{openid}/media", headers=auth(agent_token))
    assert status == 200
    [kept] = body["media"]
    assert kept["kind"] == "voice" and kept["content_type"] == "audio/amr" and kept["ticket_id"] is None


def test_a_wechat_picture_that_is_not_one_is_kept_as_a_reference(stack: Stack, agent_token: str, wechat_api):
    openid = new_openid()
    media_id = f"html-{uuid.uuid4().hex[:8]}"
    wechat_api.media[media_id] = (b"<html><script>alert(1)</script></html>", "image/jpeg")
    status, reply = post(stack, image_xml(openid, media_id))
    assert status == 200 and reply["Content"] == "已收到您的图片，客服会尽快查看。", reply
    status, body = http("GET", f"{stack.desk_url}/api/customers/wechat:{openid}/media", headers=auth(agent_token))
    [kept] = body["media"]
    assert kept["url"] is None and media_id in kept["source_ref"]
    assert get_bytes(f"{stack.desk_url}/api/media/{kept['id']}", headers=auth(agent_token))[0] == 404


def test_a_wecom_photo_is_kept_and_acknowledged(stack: Stack, agent_token: str, wechat_api):
    kf = f"wk{uuid.uuid4().hex[:10]}"
    external = f"wmP{uuid.uuid4().hex[:8]}"
    media_id = f"png-{uuid.uuid4().hex[:8]}"
    wechat_api.queue_kf(
        kf,
        {
            "msgid": uuid.uuid4().hex,
            "external_userid": external,
            "send_time": int(time.time()),
            "origin": 3,
            "msgtype": "image",
            "image": {"media_id": media_id},
        },
    )
    assert callback(stack, kf) == (200, "success")
    assert wait_for(lambda: wechat_api.kf_sent_to(external))
    [ack] = wechat_api.kf_sent_to(external)
    assert ack["text"]["content"] == "已收到您的图片，客服会尽快查看。"
    status, body = http("GET", f"{stack.desk_url}/api/customers/wecom:{external}/media", headers=auth(agent_token))
    [kept] = body["media"]
    status, data, _ = get_bytes(f"{stack.desk_url}{kept['url']}", headers=auth(agent_token))
    assert status == 200 and data == png_bytes()


def test_a_taobao_picture_is_downloaded_from_allowed_hosts_only(stack: Stack, agent_token: str, top_api):
    buyer = new_buyer("pic")
    status, body = taobao_post(stack, "taobao", "webhook", signed(message(buyer, "我要投诉，收到的杯子是碎的")))
    assert status == 200, body
    ticket = only_ticket(stack, agent_token, f"taobao:{buyer}")
    picture = {**message(buyer, ""), "pic_url": top_api.picture_url(f"png-{uuid.uuid4().hex[:8]}.png")}
    status, body = taobao_post(stack, "taobao", "webhook", signed(picture))
    assert status == 200 and body["replies"] == 1, body
    assert texts_to(top_api, buyer)[-1] == f"已收到您的图片，已补充到工单{ticket['number']}，我们会尽快处理。"
    # A page posing as a picture, and a host off the allowlist: kept as links only.
    fake = {**message(buyer, ""), "pic_url": top_api.picture_url("html-x.jpg")}
    elsewhere = {**message(buyer, ""), "pic_url": "http://169.254.169.254/latest/meta-data/"}
    for params in (fake, elsewhere):
        assert taobao_post(stack, "taobao", "webhook", signed(params))[0] == 200
    status, detail = http("GET", f"{stack.desk_url}/api/tickets/{ticket['id']}", headers=auth(agent_token))
    downloaded, page, metadata = detail["media"]
    status, data, _ = get_bytes(f"{stack.desk_url}{downloaded['url']}", headers=auth(agent_token))
    assert status == 200 and data == png_bytes()
    assert page["url"] is None and page["source_ref"] == fake["pic_url"]
    assert metadata["url"] is None and metadata["source_ref"] == elsewhere["pic_url"]


def test_customer_export_and_delete_include_media(stack: Stack, agent_token: str):
    openid = new_openid()
    customer = f"wechat:{openid}"
    status, reply = post(stack, image_xml(openid, f"png-{uuid.uuid4().hex[:8]}"))
    assert status == 200 and "已收到您的图片" in reply["Content"], reply
    exported = kefu(stack, "customer", "export", customer)
    assert exported.returncode == 0, exported.stderr
    [row] = json.loads(exported.stdout)["media"]
    assert base64.b64decode(row["content_base64"]) == png_bytes()
    stored = Path(stack.env["KEFU_MEDIA_DIR"]) / row["stored_name"]
    assert stored.is_file() and stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700

    deleted = kefu(stack, "customer", "delete", customer, "--yes")
    assert deleted.returncode == 0 and "media 1" in deleted.stdout, deleted.stdout + deleted.stderr
    assert not stored.exists()
    assert json.loads(kefu(stack, "customer", "export", customer).stdout)["media"] == []
    status, data, _ = get_bytes(f"{stack.desk_url}/api/media/{row['id']}", headers=auth(agent_token))
    assert status == 404


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory, wechat_api):
    """A reply budget no download meets: every photo is acknowledged later."""
    running = start_stack(
        tmp_path_factory.mktemp("media_slow"), wechat_env(wechat_api.url, WECHAT_REPLY_BUDGET_SECONDS="0.001")
    )
    yield running
    stop_stack(running)


def test_a_download_past_the_reply_budget_is_acknowledged_through_the_customer_service_api(
    slow_stack: Stack, wechat_api
):
    openid = new_openid()
    assert post(slow_stack, image_xml(openid, f"png-{uuid.uuid4().hex[:8]}")) == (200, "success")
    assert wait_for(lambda: wechat_api.sent_to(openid))
    [call] = wechat_api.sent_to(openid)
    assert call["body"]["text"]["content"] == "已收到您的图片，客服会尽快查看。"
