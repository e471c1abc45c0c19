"""Encrypted WeChat messages from N concurrent users against a running server.

    WECHAT_TOKEN=spamtest WECHAT_APPID=wx2c2769f8efd9abc2 \
    WECHAT_ENCODING_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG make run
    .venv/bin/python bench/wechat_load.py [--url http://127.0.0.1:5005] [--messages 6]

Each user sends its messages one after another, signed and AES-encrypted with
wechatpy as WeChat does. Prints, for 1, 10 and 50 concurrent users, the share
answered passively (a reply in the HTTP answer, not `success`), p50/p99
latency and the share answered within WeChat's 5 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

MESSAGES = ["亲，在吗", "物业费在哪里交", "请问现货几天能发货呀", "快递太慢了，我要投诉", "好的谢谢", "拜拜"]


def request_for(crypto: WeChatCrypto, token: str, openid: str, text: str):
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    xml = (
        f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
        f"</FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{uuid.uuid4().int % 10**18}</MsgId></xml>"
    )
    encrypted = crypto.encrypt_message(xml, nonce, ts)
    signer = WeChatSigner()
    signer.add_data(token, ts, nonce)
    params = {
        "signature": signer.signature,
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": xmltodict.parse(encrypted)["xml"]["MsgSignature"],
    }
    return params, encrypted.encode()


async def user(session, url, crypto, token, count, latencies, passive, failures) -> None:
    openid = f"bench{uuid.uuid4().hex[:16]}"
    for text in MESSAGES[:count]:
        params, body = request_for(crypto, token, openid, text)
        started = time.perf_counter()
        try:
            async with session.post(url, params=params, data=body) as resp:
                answer = await resp.text()
                if resp.status != 200:
                    failures.append(resp.status)
                elif answer.startswith("<xml>"):
                    passive.append(1)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            failures.append(exc.__class__.__name__)
        latencies.append(time.perf_counter() - started)


async def level(url, crypto, token, users, count) -> dict:
    latencies: list[float] = []
    passive: list[int] = []
    failures: list = []
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=users), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        started = time.perf_counter()
        await asyncio.gather(
            *(user(session, url, crypto, token, count, latencies, passive, failures) for _ in range(users))
        )
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "users": users,
        "messages": len(latencies),
        "failures": len(failures),
        "msg_s": len(latencies) / elapsed,
        "passive": len(passive) / len(latencies),
        "p50": statistics.median(latencies) * 1000,
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
        "within_5s": sum(1 for x in latencies if x < 5) / len(latencies),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--token", default="spamtest")
    parser.add_argument("--aes-key", default="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    parser.add_argument("--appid", default="wx2c2769f8efd9abc2")
    parser.add_argument("--messages", type=int, default=len(MESSAGES))
    parser.add_argument("--levels", default="1,10,50")
    args = parser.parse_args()
    crypto = WeChatCrypto(args.token, args.aes_key, args.appid)
    url = f"{args.url}/webhooks/wechat/webhook"
    await level(url, crypto, args.token, 1, 1)  # warm-up
    print(
        f"{'users':>6} {'messages':>8} {'fail':>5} {'msg/s':>7} {'passive':>8} {'p50 ms':>7} {'p99 ms':>7} {'<5 s':>6}"
    )
    for users in (int(x) for x in args.levels.split(",")):
        r = await level(url, crypto, args.token, users, args.messages)
        print(
            f"{r['users']:>6} {r['messages']:>8} {r['failures']:>5} {r['msg_s']:>7.1f} {r['passive']:>8.1%} "
            f"{r['p50']:>7.0f} {r['p99']:>7.0f} {r['within_5s']:>6.1%}"
        )


if __name__ == "__main__":
    asyncio.run(main())
