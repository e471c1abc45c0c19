"""Taobao Open Platform (TOP) request signatures.

Sort every parameter except `sign` by name, skip empty values, join
`key + value`; md5 = MD5(secret + s + secret), hmac = HMAC-MD5(secret, s),
hmac-sha256 = HMAC-SHA256(secret, s); upper-case hex over UTF-8. There is
no maintained TOP SDK on PyPI, and the rule is this short.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


class UnknownSignMethod(ValueError):
    def __init__(self, method: str) -> None:
        super().__init__(f"sign_method must be one of {', '.join(SIGN_METHODS)}, not {method!r}")


def top_sign(params: Mapping[str, object], secret: str, method: str = "md5") -> str:
    joined = "".join(
        f"{key}{value}" for key, value in sorted(params.items()) if key != "sign" and value not in (None, "")
    ).encode("utf-8")
    key = secret.encode("utf-8")
    if method == "md5":
        digest = hashlib.md5(key + joined + key).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, joined, hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(key, joined, hashlib.sha256).hexdigest()
    else:
        raise UnknownSignMethod(method)
    return digest.upper()


def verify_top_sign(params: Mapping[str, object], secret: str) -> bool:
    """Constant-time check of `params["sign"]` with the request's own sign_method."""
    method = str(params.get("sign_method") or "md5")
    if method not in SIGN_METHODS:
        return False
    expected = top_sign(params, secret, method)
    return hmac.compare_digest(expected, str(params.get("sign") or "").upper())
