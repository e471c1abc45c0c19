"""Test accounts of the platforms (WeChat, WeCom, Taobao/Tmall) and the
channel environment that points the connectors at the fake gateways."""

from __future__ import annotations

# Tencent's published sample account (token, EncodingAESKey, appid).
WECHAT_TOKEN = "spamtest"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APPID = "wx2c2769f8efd9abc2"
WECOM_CORPID = "ww1436e0e65a779aee"
WECOM_TOKEN = "wecomtoken"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

TAOBAO_APP_KEY = "12345678"
TAOBAO_APP_SECRET = "top-secret"  # the fake gateway's secret


def wechat_env(api_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_ENCODING_AES_KEY": WECHAT_AES_KEY,
        "WECHAT_APPID": WECHAT_APPID,
        "WECHAT_APPSECRET": "test-secret",
        "WECHAT_API_BASE": api_url,
        "WECOM_CORPID": WECOM_CORPID,
        "WECOM_SECRET": "wecom-secret",
        "WECOM_TOKEN": WECOM_TOKEN,
        "WECOM_ENCODING_AES_KEY": WECOM_AES_KEY,
        "WECOM_API_BASE": api_url,
    }
    env.update(overrides)
    return env


def taobao_env(api_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "TAOBAO_APP_KEY": TAOBAO_APP_KEY,
        "TAOBAO_APP_SECRET": TAOBAO_APP_SECRET,
        "TAOBAO_SESSION": "test-session",
        "TAOBAO_API_BASE": api_url,
        "TAOBAO_SIGN_METHOD": "hmac-sha256",
        # Buyers' pictures come from the fake gateway on loopback in the tests.
        "KEFU_MEDIA_URL_HOSTS": "127.0.0.1",
    }
    env.update(overrides)
    return env
