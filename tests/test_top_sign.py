"""TOP signatures against the published vector."""

import hashlib
import hmac

import pytest

from kefu.clients.top_sign import UnknownSignMethod, top_sign, verify_top_sign

VECTOR = {
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}


def test_published_md5_vector():
    assert top_sign(VECTOR, "helloworld", "md5") == "66987CB115214E59E6EC978214934FB8"


def test_sign_and_empty_values_are_not_signed():
    with_extra = {**VECTOR, "sign": "whatever", "empty": "", "none": None}
    assert top_sign(with_extra, "helloworld") == "66987CB115214E59E6EC978214934FB8"


def test_hmac_variants_follow_the_rule():
    joined = "".join(f"{k}{v}" for k, v in sorted(VECTOR.items())).encode()
    assert top_sign(VECTOR, "helloworld", "hmac") == hmac.new(b"helloworld", joined, hashlib.md5).hexdigest().upper()
    assert (
        top_sign(VECTOR, "helloworld", "hmac-sha256")
        == hmac.new(b"helloworld", joined, hashlib.sha256).hexdigest().upper()
    )
    assert top_sign(VECTOR, "helloworld", "hmac") != top_sign(VECTOR, "helloworld", "md5")


def test_unknown_method_is_refused():
    with pytest.raises(UnknownSignMethod):
        top_sign(VECTOR, "helloworld", "sha1")


def test_verify_accepts_right_and_rejects_forged_signatures():
    signed = {**VECTOR, "sign": "66987CB115214E59E6EC978214934FB8"}
    assert verify_top_sign(signed, "helloworld")
    assert not verify_top_sign({**signed, "num_iid": "11223345"}, "helloworld")
    assert not verify_top_sign(signed, "other-secret")
    assert not verify_top_sign({**signed, "sign_method": "sha1"}, "helloworld")
