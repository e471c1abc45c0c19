"""Configuration: kefu/core/settings.py declares every environment variable,
docs/configuration.md shows exactly those, and nothing else reads the
environment. Fast: no stack, nothing started."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kefu.core import settings
from kefu.core.settings import BY_NAME, CREDENTIALS_VARIABLES, PROJECT_ROOT, VARIABLES, default

DOC = PROJECT_ROOT / "docs" / "configuration.md"
BEGIN, END = "<!-- variables:", "<!-- end of variables -->"
RASA_FILES = ("bot/credentials.yml", "bot/endpoints.yml", "bot/endpoints-shared.yml", "bot/endpoints-scaled.yml")
# Test and benchmark harnesses set their own variables; they are not the product's configuration.
NOT_SCANNED = {"tests", "bench", ".venv", "venv", "models", "var", "node_modules", "docs", "deploy"}
# Read by the web desk, which is being restructured in parallel; the values are
# already fields of kefu.core.settings.Settings (public_rasa_url, secure_cookies).
# Remove each entry once the desk takes them from its settings.
ALLOWED_READERS: dict = {}
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def documented_rows() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOC}: the generated table's markers are missing"
    block = text[text.index(BEGIN) : text.index(END)]
    rows = {}
    for line in block.splitlines():
        found = re.match(r"\| `([A-Za-z0-9_]+)` \|", line)
        if found:
            assert found.group(1) not in rows, f"{DOC}: {found.group(1)} is listed twice"
            rows[found.group(1)] = line
    return rows


def test_the_documented_table_lists_exactly_the_declared_variables():
    documented = documented_rows()
    declared = {v.name for v in VARIABLES}
    fix = "regenerate it: python -m kefu.core.settings"
    assert not declared - documented.keys(), (
        f"declared in kefu/core/settings.py but not in {DOC.name}: {sorted(declared - documented.keys())}; {fix}"
    )
    assert not documented.keys() - declared, (
        f"in {DOC.name} but not declared in kefu/core/settings.py: {sorted(documented.keys() - declared)}; "
        "declare them in VARIABLES (or remove them from the doc)"
    )
    generated = {re.match(r"\| `([A-Za-z0-9_]+)`", row).group(1): row for row in settings.table_rows()}
    differ = [name for name in declared if documented[name] != generated[name]]
    assert not differ, f"{DOC.name} shows another default, meaning or reader for {sorted(differ)}; {fix}"
    assert list(documented) == list(generated), f"{DOC.name}: the rows are in another order; {fix}"


def test_every_placeholder_in_rasas_files_is_declared():
    """Rasa substitutes ${VAR} from its environment: those are variables too."""
    placeholders: dict[str, set] = {}
    for name in RASA_FILES:
        placeholders[name] = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", (PROJECT_ROOT / name).read_text("utf-8")))
    undeclared = {n: sorted(p - BY_NAME.keys()) for n, p in placeholders.items() if p - BY_NAME.keys()}
    assert not undeclared, f"placeholders not declared in kefu/core/settings.py: {undeclared}"
    # Rasa refuses an unset ${VAR} in credentials.yml: kefu run gives each a default.
    assert set(CREDENTIALS_VARIABLES) == placeholders["bot/credentials.yml"]
    assert all(default(n) is not None for n in CREDENTIALS_VARIABLES)


def env_uses(path: Path) -> list[str]:
    """Each place in path that touches the process environment through os."""
    source = path.read_text(encoding="utf-8")
    if not any(name in source for name in ENV_NAMES):  # parsing every file is the slow part
        return []
    tree = ast.parse(source, str(path))
    os_names = {"os"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"line {node.lineno}: from os import {a.name}" for a in node.names if a.name in ENV_NAMES]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def product_sources() -> list[Path]:
    found: list[Path] = []
    for top in PROJECT_ROOT.iterdir():
        if top.name.startswith(".") or top.name in NOT_SCANNED:
            continue
        if top.is_dir():
            found += [p for p in top.rglob("*.py") if not (set(p.relative_to(top).parts) & NOT_SCANNED)]
        elif top.suffix == ".py":
            found.append(top)
    return sorted(found)


def test_only_the_settings_module_reads_the_environment():
    readers = {}
    for path in product_sources():
        rel = path.relative_to(PROJECT_ROOT).as_posix()
        if rel == "kefu/core/settings.py":
            continue
        uses = env_uses(path)
        if uses and rel not in ALLOWED_READERS:
            readers[rel] = uses
    assert not readers, (
        "read the environment outside kefu/core/settings.py (declare the variable there, "
        f"load it once with the process's settings and pass it in): {readers}"
    )
    stale = [rel for rel in ALLOWED_READERS if not (PROJECT_ROOT / rel).exists() or not env_uses(PROJECT_ROOT / rel)]
    assert not stale, f"no longer read the environment: remove them from ALLOWED_READERS: {stale}"


def test_the_scan_sees_what_it_must():
    assert PROJECT_ROOT / "kefu" / "runtime" / "supervisor.py" in product_sources()
    assert PROJECT_ROOT / "connectors" / "taobao.py" in product_sources()
    assert not [p for p in product_sources() if "tests" in p.relative_to(PROJECT_ROOT).parts]
    sample = PROJECT_ROOT / "kefu" / "core" / "settings.py"
    assert env_uses(sample), "the settings module itself reads os.environ: the scan would see it"


def literal(path: str, name: str) -> str:
    """The value of a module-level NAME = "…" in path, without importing it (connectors import Rasa)."""
    for node in ast.parse((PROJECT_ROOT / path).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path}: no {name}")


def test_declared_defaults_are_the_ones_the_code_falls_back_to():
    from kefu.clients.top_api import DEFAULT_API_BASE, DEFAULT_CHAT_METHOD, TopConfig
    from kefu.reminders.policy import DATA_FILE
    from kefu.reminders.worker import WorkerSettings
    from kefu.runtime.model_watch import DEFAULT_INTERVAL_SECONDS

    assert default("TAOBAO_API_BASE") == DEFAULT_API_BASE
    assert default("TAOBAO_CHAT_METHOD") == DEFAULT_CHAT_METHOD
    assert default("TAOBAO_SIGN_METHOD") == TopConfig("", "", "").sign_method
    assert default("WECHAT_API_BASE") == literal("connectors/wechat.py", "DEFAULT_API_BASE")
    assert default("WECOM_API_BASE") == literal("connectors/wecom.py", "DEFAULT_API_BASE")
    assert float(default("KEFU_MODEL_CHECK_SECONDS")) == DEFAULT_INTERVAL_SECONDS
    assert Path(default("KEFU_REMINDER_POLICIES")) == DATA_FILE and DATA_FILE.is_file()
    assert Path(default("KEFU_IMPORTANT_CUSTOMERS")).is_file()
    assert WorkerSettings() == WorkerSettings.from_settings(settings.load_reminder_settings({}))


def test_settings_are_read_from_the_mapping_given():
    """Unset and empty differ where they did before the settings module."""
    env = {"KEFU_RASA_TOKEN": "t"}  # no token file read
    desk = settings.load_settings(env)
    assert (desk.database_url, desk.rasa_url, desk.desk_port, desk.desk_host) == (
        settings.DEFAULT_DATABASE_URL,
        "http://127.0.0.1:5005",
        8000,
        "0.0.0.0",
    )
    assert desk.public_rasa_url == desk.rasa_url and desk.secure_cookies is False
    desk = settings.load_settings(
        {
            **env,
            "KEFU_RASA_PORT": "6005",
            "KEFU_PUBLIC_RASA_URL": "",
            "KEFU_DESK_SECURE_COOKIES": "1",
            "KEFU_TRUSTED_PROXIES": " 10.0.0.1, ,",
        }
    )
    assert desk.rasa_url == "http://127.0.0.1:6005" and desk.public_rasa_url is None
    assert desk.secure_cookies is True and desk.trusted_proxies == frozenset({"10.0.0.1"})

    channels = settings.load_channel_settings({"TAOBAO_SIGN_METHOD": "", "KEFU_SMS_URL": "http://sms"})
    assert channels.taobao.sign_method == "md5" and channels.taobao.tmc_group == "default"
    assert channels.sms_url == "http://sms" and not channels.wechat.configured

    reminders = settings.load_reminder_settings({"KEFU_TMC_PULL": "0", "KEFU_REMINDER_LEASE_SECONDS": "7"})
    assert reminders.tmc_pull is False and reminders.lease_seconds == 7.0

    tracker = settings.load_tracker_settings({"KEFU_REDIS_URL": "redis://r", "KEFU_REDIS_PREFIX": ""})
    assert tracker.dialect == "sqlite" and tracker.redis_prefix == "" and not tracker.shared

    supervisor = settings.load_supervisor_settings(
        {"KEFU_RASA_PORTS": "7001,7002", "KEFU_ACTION_SERVERS": "3", "KEFU_ACTIONS_PORT": "6000"}, scaled=True
    )
    assert supervisor.scaled.rasa_ports == (7001, 7002) and supervisor.scaled.action_ports == (6000, 6001, 6002)
    assert supervisor.crash_loop_window_seconds == 120.0 and supervisor.reminder_workers == 1

    action_server = settings.load_action_server_settings({"KEFU_ACTIONS_TOKEN": ""})
    assert action_server == settings.ActionServerSettings("127.0.0.1", None)
