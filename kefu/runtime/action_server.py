"""The rasa-sdk action server, with personal data masked in its logs, on
loopback by default, and behind a shared secret when it is not.

Its /webhook runs any action for any conversation id it is told (an order
look-up, a ticket, a handoff), so only Rasa may call it: rasa-sdk itself
listens on 0.0.0.0 and checks nothing.
"""

from __future__ import annotations

import hmac
import ipaddress

from kefu.core.settings import ActionServerSettings, default, load_action_server_settings, set_sanic_host

TOKEN_HEADER = "X-Kefu-Actions-Token"  # sent by Rasa (bot/endpoints*.yml)
DEFAULT_HOST = default("KEFU_ACTIONS_HOST")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def checked_settings(settings: ActionServerSettings) -> ActionServerSettings:
    """settings (KEFU_ACTIONS_HOST, KEFU_ACTIONS_TOKEN) as given; refuses a
    reachable address without a token."""
    host, token = settings.host, settings.token
    if not is_loopback(host) and not token:
        raise SystemExit(
            f"error: the action server on {host} needs KEFU_ACTIONS_TOKEN, a secret shared "
            "with Rasa (e.g. `openssl rand -hex 32`); without one anybody who reaches the port "
            "could read orders and create tickets for any customer"
        )
    return settings


def token_guard(token: str):
    """Sanic request middleware: everything but /health needs the token."""
    from sanic import response

    expected = token.encode()

    async def guard(request):
        if request.path == "/health":
            return None
        provided = request.headers.get(TOKEN_HEADER, "").encode("utf-8", "surrogatepass")
        if hmac.compare_digest(provided, expected):
            return None
        return response.json({"error": f"missing or wrong {TOKEN_HEADER}"}, status=401)

    return guard


def install_token_guard(token: str) -> None:
    import rasa_sdk.endpoint as endpoint

    original = endpoint.create_app

    def create_app(*args, **kwargs):
        app = original(*args, **kwargs)
        app.register_middleware(token_guard(token), "request")
        return app

    endpoint.create_app = create_app


if __name__ == "__main__":
    from kefu.text.pii import install

    install()
    settings = checked_settings(load_action_server_settings())
    set_sanic_host(settings.host)  # rasa_sdk.endpoint.run reads its address from there
    if settings.token:
        install_token_guard(settings.token)
    from rasa_sdk.__main__ import main

    main()
