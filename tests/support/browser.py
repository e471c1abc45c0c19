"""The desk and the widget in a real browser: Debian's chromium through
Playwright (it never downloads a browser here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine notes say: without these, chromium keeps trying to reach
# Google's hosts from a machine with no internet.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launched_chromium() -> Iterator[Any]:
    """Headless chromium for one module's tests (the `browser` fixture)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


def open_widget(page) -> None:
    """Open the widget's chat window and wait until it is connected."""
    page.click(".kefu-launch")
    page.wait_for_selector(".kefu-status >> text=在线")


def widget_say(page, text: str) -> None:
    page.fill(".kefu-form .kefu-text", text)
    page.press(".kefu-form .kefu-text", "Enter")


def csp_violations(context) -> list[str]:
    """Chromium logs every Content-Security-Policy refusal on the console."""
    found: list[str] = []
    context.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found


def sign_in(page, desk_url: str, name: str, password: str) -> None:
    """Sign in on the desk's login page and wait for the workspace."""
    page.goto(f"{desk_url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/desk")
