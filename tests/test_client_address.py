"""Behind the scaled profile's nginx the desk's login limit must count the
client's address, and nobody else may choose the address it counts."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from kefu.core.settings import Settings
from kefu.desk.requests import SETTINGS, client_address


def request(peer: str, trusted: frozenset, real_ip: str = "203.0.113.9"):
    settings = Settings(database_url="sqlite://", rasa_url="http://x", desk_port=0, trusted_proxies=trusted)
    return make_mocked_request(
        "POST", "/api/login", headers={"X-Real-IP": real_ip}, app={SETTINGS: settings}, transport=_Transport(peer)
    )


class _Transport:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default=None):
        return (self.peer, 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False


def test_the_proxy_s_x_real_ip_is_the_client():
    assert client_address(request("127.0.0.1", frozenset({"127.0.0.1"}))) == "203.0.113.9"


def test_anyone_else_s_x_real_ip_is_ignored():
    assert client_address(request("198.51.100.7", frozenset({"127.0.0.1"}))) == "198.51.100.7"
    assert client_address(request("127.0.0.1", frozenset())) == "127.0.0.1"
