"""Which model a Rasa server loads, and getting it loaded.

The model registry (kefu/core/model_registry.py) names the live model. A new
installation's registry is empty: the first start adopts `KEFU_MODEL` or the
newest archive in the models directory as live. After that every start (`kefu
run`, `kefu serve rasa`, a Rasa server restarted by the supervisor) loads the
registry's live model, and a model that goes live or is rolled back to is
loaded into every running Rasa server through Rasa's model API (`PUT /model`
with the API token): Rasa swaps its agent once the new one is loaded, so
messages arriving meanwhile are answered by the old one.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session

from kefu.core import model_registry
from kefu.core.db import make_engine, upgrade
from kefu.core.settings import ModelSettings

LOAD_TIMEOUT_SECONDS = 300  # a model loads in seconds; a busy machine may take much longer


def newest_archive(models_dir: Path) -> Path | None:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def resolve(settings: ModelSettings, migrate: bool = True) -> Path:
    """The live model's archive; on a registry with no live model, adopt
    KEFU_MODEL or the newest archive first. SystemExit with the reason when
    there is none, or the live one's file is missing."""
    if migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, future=True) as session:
            path = model_registry.live_path(session, settings.models_dir)
            if path is None:
                first = settings.first_model or newest_archive(settings.models_dir)
                if first is None:
                    raise SystemExit(f"error: no trained model in {settings.models_dir}; run 'make train' first")
                if first.parent.resolve() != settings.models_dir.resolve():
                    raise SystemExit(f"error: KEFU_MODEL {first} is not in KEFU_MODELS_DIR {settings.models_dir}")
                model_registry.adopt(session, first.name, f"新安装：采用 {first.name} 作为第一个上线模型")
                print(f"kefu: model registry: {first.name} is the live model", flush=True)
                return first
    finally:
        engine.dispose()
    if not path.is_file():
        raise SystemExit(
            f"error: the live model {path.name} (model registry) is missing from {settings.models_dir}; "
            "restore it, or make another model live (POST /api/models/{id}/activate)"
        )
    return path


def rasa_request(method: str, url: str, token: str | None, body: dict | None, timeout: float):
    """One call to Rasa's HTTP API with the token; the caller reads (and closes) the response."""
    target = f"{url}?token={quote(token, safe='')}" if token else url
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(target, data=data, method=method, headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=timeout)


def loaded_model(rasa_url: str, token: str | None, timeout: float = 3) -> str | None:
    """The archive name a Rasa server has loaded; None if it cannot tell."""
    try:
        with rasa_request("GET", f"{rasa_url}/status", token, None, timeout) as resp:
            name = json.loads(resp.read()).get("model_file")
            return Path(name).name if isinstance(name, str) else None
    except (OSError, ValueError):
        return None


def load_into(rasa_url: str, token: str | None, model: Path, timeout: float = LOAD_TIMEOUT_SECONDS) -> str | None:
    """Rasa's `PUT /model`; None on success (or when the server is not
    running: it loads the live model when it starts), else what went wrong."""
    try:
        with rasa_request("PUT", f"{rasa_url}/model", token, {"model_file": str(model.resolve())}, timeout):
            return None
    except urllib.error.HTTPError as err:
        return f"{rasa_url}: HTTP {err.code} {err.read()[:300].decode('utf-8', 'replace')}"
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            return None  # not running: it loads the registry's live model when it starts
        return f"{rasa_url}: {err.reason}"
    except OSError as err:
        return f"{rasa_url}: {err}"


def load_everywhere(rasa_urls: Iterable[str], token: str | None, model: Path) -> list[str]:
    """Load the model into every server; the failures (the supervisor's
    model check retries them, a restarted server loads it by itself)."""
    failures = []
    for url in rasa_urls:
        failure = load_into(url, token, model)
        if failure is not None:
            print(f"kefu: loading {model.name} failed on {failure}", file=sys.stderr, flush=True)
            failures.append(failure)
    return failures


class Wanted:
    """The live model's archive name, read from the registry (for the
    supervisor's model check, which loads it into a server that has
    another: one that missed a `PUT /model`)."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)

    def __call__(self) -> Path | None:
        try:
            with Session(self.engine, future=True) as session:
                return model_registry.live_path(session, self.settings.models_dir)
        except Exception:  # noqa: BLE001 - the database restarting: ask again next round
            return None
