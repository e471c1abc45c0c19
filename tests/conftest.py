"""Fixtures only; the helpers behind them live in tests/support/.

Two tiers. The fast tier (`make test-fast`, `pytest -m "not e2e"`) runs in
this process: pure functions, the core on SQLite, the desk through aiohttp's
test client, the channels on an in-process Sanic app. Everything that needs
the running stack, a trained model, a browser, PostgreSQL, Redis or nginx is
`e2e`; tests are marked by the fixtures they use, and a fast test that starts
a subprocess fails, so a missing mark is found rather than slowing the tier.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.agents import add_agent, login
from tests.support.browser import launched_chromium
from tests.support.channels import Channels, Recorder, running_channels
from tests.support.desk import Desk, running_desk
from tests.support.fake_top_api import FakeTopAPI
from tests.support.fake_wechat_api import FakeWeChatAPI
from tests.support.platforms import TAOBAO_APP_SECRET, taobao_env, wechat_env
from tests.support.stack import PG_ADMIN_URL, Stack, pg_database, start_stack, stop_stack

MARKERS = {
    "e2e": "needs the running stack, a trained model, subprocesses, a browser, PostgreSQL, Redis or nginx "
    "(left out by `make test-fast`)",
    "browser": "e2e through Debian's chromium (Playwright)",
    "scaled": "e2e on the scaled profile (PostgreSQL, Redis, nginx)",
    "postgres": "e2e on a PostgreSQL server",
    "tool": "fast, but runs a development tool (import-linter) as a subprocess: the tool, not our system",
}

# Fixture -> the marks every test using it (directly or through another
# fixture) gets. Module fixtures that start a stack themselves are marked in
# their module (`pytestmark`) or by the test.
FIXTURE_MARKS = {
    "stack": ("e2e",),
    "postgres_url": ("e2e", "postgres"),
    "browser": ("e2e", "browser"),
    "scaled": ("e2e", "scaled"),
}


def pytest_configure(config):
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    # Several Sanic apps start in this process (the channels' fast tests).
    # Sanic rewrites its own request code when an app starts ("touchup");
    # a second app would rewrite the rewritten code and fail. Its test mode,
    # as sanic-testing sets it, starts each app from the original code.
    from sanic import Sanic

    Sanic.test_mode = True


def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = {m for fixture in item.fixturenames for m in FIXTURE_MARKS.get(fixture, ())}
        if marks & {"browser", "scaled", "postgres"}:
            marks.add("e2e")
        for name in sorted(marks):
            item.add_marker(name)


# Libraries run these on their own (webexteamssdk, imported by
# rasa.core.channels, asks git for its version; Sanic's start-up banner asks
# `uname -p` through the platform module); they start nothing of ours.
LIBRARY_COMMANDS = {"git", "uname"}
_execute_child = subprocess.Popen._execute_child


def _no_subprocess(self, args, *rest, **kwargs):
    program = args if isinstance(args, (str, bytes)) else args[0]
    if os.path.basename(os.fsdecode(program)) in LIBRARY_COMMANDS:
        return _execute_child(self, args, *rest, **kwargs)
    raise RuntimeError(
        f"a fast test started a subprocess ({args!r}): mark the test e2e, or call the function in this process"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _fast_tier_guard(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _fast_tier_guard(item):
        yield


class _fast_tier_guard:
    """No subprocess in a test (or its fixtures' set-up) that is not e2e."""

    def __init__(self, item) -> None:
        self.active = item.get_closest_marker("e2e") is None and item.get_closest_marker("tool") is None
        self.saved = None

    def __enter__(self):
        if self.active:
            self.saved = subprocess.Popen._execute_child
            subprocess.Popen._execute_child = _no_subprocess
        return self

    def __exit__(self, *exc):
        if self.active:
            subprocess.Popen._execute_child = self.saved
        return False


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where the browser tests' screenshots go: a temporary folder, so a test
    run never rewrites the tracked docs/*.png; `make screenshots` sets
    KEFU_SCREENSHOT_DIR to docs/."""
    chosen = os.environ.get("KEFU_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def wechat_api() -> FakeWeChatAPI:
    return FakeWeChatAPI().start()


@pytest.fixture(scope="session")
def top_api() -> FakeTopAPI:
    return FakeTopAPI(TAOBAO_APP_SECRET).start()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, wechat_api, top_api) -> Stack:
    # No reminder worker here: its 催付 to the tests' buyers would mix into
    # their conversations. tests/test_reminders_stack.py runs one end to end.
    running = start_stack(
        tmp_path_factory.mktemp("stack"),
        {**wechat_env(wechat_api.url), **taobao_env(top_api.url), "KEFU_REMINDER_WORKERS": "0"},
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def browser():
    """Headless chromium, one per test module (its tests are marked browser and e2e)."""
    yield from launched_chromium()


@pytest.fixture(scope="session")
def agent_token(stack: Stack) -> str:
    return login(stack.desk_url, *add_agent(stack.env))


@pytest.fixture(scope="session")
def desk(tmp_path_factory) -> Desk:
    """The desk in this process on its own SQLite database, shared by the
    session's fast desk tests as the stack's desk is by the e2e ones."""
    with running_desk(f"sqlite:///{tmp_path_factory.mktemp('desk') / 'kefu.db'}") as running:
        yield running


@pytest.fixture(scope="session")
def channels(tmp_path_factory, wechat_api, top_api) -> Channels:
    """Every channel of bot/credentials.yml in this process, configured as the
    stack's are (fake WeChat/WeCom/TOP gateways), answering through a Recorder."""
    env = {**wechat_env(wechat_api.url), **taobao_env(top_api.url)}
    with running_channels(f"sqlite:///{tmp_path_factory.mktemp('channels') / 'kefu.db'}", env, Recorder()) as running:
        yield running


@pytest.fixture()
def postgres_url() -> str:
    """A fresh PostgreSQL database for one test, dropped afterwards. The
    machines have PostgreSQL; a test that needs it fails without it."""
    with pg_database(PG_ADMIN_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.e2e, pytest.mark.postgres])])
def migrated_database_url(request, tmp_path) -> str:
    """The desk schema on a fresh SQLite file, then on a fresh PostgreSQL database."""
    from kefu.core.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kefu.core.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


@pytest.fixture()
def session(migrated_database_url):
    """A 2.0-style session on the migrated desk schema (SQLite, then PostgreSQL)."""
    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine

    engine = make_engine(migrated_database_url)
    with Session(engine, future=True, expire_on_commit=False) as s:
        yield s
    engine.dispose()
