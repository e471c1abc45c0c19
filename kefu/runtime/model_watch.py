"""`kefu run` says when a Rasa server has lost its model, and gives a server
that runs another model than the registry's live one the live one.

Without a model Rasa keeps its port open and accepts every message, but
answers nothing (after `DELETE /model`, or a `PUT /model` that failed): the
operator must read it in the log, not learn it from customers. A server can
also miss a model going live (it was busy restarting); the next check loads
the live model into it.
"""

from __future__ import annotations

import sys
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path

from kefu.runtime.live_model import load_everywhere, loaded_model, rasa_request

DEFAULT_INTERVAL_SECONDS = 15.0


def model_state(rasa_url: str, token: str, timeout: float = 3) -> str | None:
    """ "loaded", "missing", or None when Rasa cannot tell (starting, restarting)."""
    try:
        with rasa_request("GET", f"{rasa_url}/status", token, None, timeout):
            return "loaded"
    except urllib.error.HTTPError as err:
        return "missing" if err.code == 409 else None
    except OSError:  # not listening (yet), or too slow: its restart is logged elsewhere
        return None


class ModelWatch:
    """Called on every supervisor round; asks each Rasa server at most once
    per interval and logs only changes."""

    def __init__(
        self,
        rasa_urls: list[str],
        token: str,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        wanted: Callable[[], Path | None] | None = None,
    ) -> None:
        self.rasa_urls = rasa_urls
        self.wanted = wanted
        self.token = token
        self.interval = interval
        self.next_check = 0.0
        self.states: dict[str, str] = {}

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + self.interval
        for url in self.rasa_urls:
            state = model_state(url, self.token)
            if state == "loaded":
                self.reconcile(url)
            if state is None or state == self.states.get(url):
                continue
            if state == "missing":
                print(
                    f"kefu: rasa {url} has no model loaded: customers get no answers until one is "
                    f"loaded (PUT /model) or it is restarted",
                    file=sys.stderr,
                    flush=True,
                )
            elif url in self.states:
                print(f"kefu: rasa {url} has a model again", file=sys.stderr, flush=True)
            self.states[url] = state

    def reconcile(self, url: str) -> None:
        live = self.wanted() if self.wanted is not None else None
        if live is None:
            return
        loaded = loaded_model(url, self.token)
        if loaded is None or loaded == live.name:
            return
        print(f"kefu: rasa {url} runs {loaded}, the live model is {live.name}: loading it", file=sys.stderr, flush=True)
        load_everywhere([url], self.token, live)
